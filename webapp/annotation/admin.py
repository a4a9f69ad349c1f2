from django.contrib import admin

from webapp.annotation.models import Box, DetectPhoto, ImageState


@admin.register(Box)
class BoxAdmin(admin.ModelAdmin):
    list_display = ("image", "label", "xmin", "ymin", "xmax", "ymax", "source", "score", "accepted", "revision",
                    "created_by", "updated_at")
    list_filter = ("source", "accepted", "image__dataset")
    raw_id_fields = ("image", "label", "created_by", "updated_by")


@admin.register(ImageState)
class ImageStateAdmin(admin.ModelAdmin):
    list_display = ("image", "no_objects", "updated_by", "updated_at")
    raw_id_fields = ("image", "updated_by")


@admin.register(DetectPhoto)
class DetectPhotoAdmin(admin.ModelAdmin):
    list_display = ("id", "detector", "width", "height", "created_by", "created_at")
