from django.contrib import admin

from webapp.search.models import ImageEmbedding, QueryPhoto, SearchRun


@admin.register(ImageEmbedding)
class ImageEmbeddingAdmin(admin.ModelAdmin):
    list_display = ("image", "dataset", "backbone", "backbone_version", "dim", "created_at")
    list_filter = ("backbone",)
    exclude = ("vector",)
    raw_id_fields = ("image", "dataset")


@admin.register(QueryPhoto)
class QueryPhotoAdmin(admin.ModelAdmin):
    list_display = ("id", "purpose", "width", "height", "created_by", "created_at")
    list_filter = ("purpose",)
    raw_id_fields = ("job",)


@admin.register(SearchRun)
class SearchRunAdmin(admin.ModelAdmin):
    list_display = ("id", "dataset", "query_photo", "query_image", "k", "min_score", "created_at")
    raw_id_fields = ("dataset", "query_photo", "query_image", "job")
