from django.contrib import admin

from webapp.datasets.models import Dataset, DatasetClass, DatasetImage


class DatasetClassInline(admin.TabularInline):
    model = DatasetClass
    extra = 0


@admin.register(Dataset)
class DatasetAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "created_by", "created_at")
    list_filter = ("kind",)
    search_fields = ("name",)
    filter_horizontal = ("members",)
    inlines = [DatasetClassInline]


@admin.register(DatasetImage)
class DatasetImageAdmin(admin.ModelAdmin):
    list_display = ("original_name", "dataset", "label", "split", "status", "width", "height")
    list_filter = ("status", "split", "dataset")
    search_fields = ("original_name", "sha256")
