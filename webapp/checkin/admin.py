from django.contrib import admin

from webapp.checkin.models import CheckIn, CheckInPhoto, FaceSample, Member


class FaceSampleInline(admin.TabularInline):
    model = FaceSample
    extra = 0
    fields = ("status", "reason", "warning", "face_size", "detector_score", "photo", "crop")
    readonly_fields = fields
    can_delete = True


@admin.register(Member)
class MemberAdmin(admin.ModelAdmin):
    list_display = ("name", "external_id", "active", "created_at")
    list_filter = ("active",)
    search_fields = ("name", "external_id")
    inlines = [FaceSampleInline]


@admin.register(FaceSample)
class FaceSampleAdmin(admin.ModelAdmin):
    list_display = ("id", "member", "status", "face_size", "detector_score", "created_at")
    list_filter = ("status",)
    search_fields = ("member__name", "original_name")
    exclude = ("embedding",)
    readonly_fields = ("box", "detector_score", "face_size", "sharpness", "job")


@admin.register(CheckInPhoto)
class CheckInPhotoAdmin(admin.ModelAdmin):
    list_display = ("id", "source", "width", "height", "created_by", "created_at")
    list_filter = ("source",)


@admin.register(CheckIn)
class CheckInAdmin(admin.ModelAdmin):
    list_display = ("time", "member", "distance", "margin", "source")
    list_filter = ("source", ("member", admin.EmptyFieldListFilter))
    search_fields = ("member__name",)
    date_hierarchy = "time"
