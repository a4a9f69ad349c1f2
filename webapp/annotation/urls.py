from django.urls import path

from webapp.annotation import views

app_name = "annotation"
urlpatterns = [
    path("annotate/", views.dataset_list, name="datasets"),
    path("annotate/<int:dataset_id>/", views.dataset_detail, name="dataset"),
    path("annotate/<int:dataset_id>/start/", views.annotate_start, name="start"),
    path("annotate/<int:dataset_id>/photos/<int:image_id>/", views.annotate, name="annotate"),
    path("annotate/<int:dataset_id>/classes/", views.class_add, name="class_add"),
    path("annotate/<int:dataset_id>/annotators/", views.annotator_add, name="annotator_add"),
    path("annotate/<int:dataset_id>/upload/", views.photos_add, name="photos_add"),
    path("annotate/<int:dataset_id>/import/", views.annotations_import, name="import"),
    path("annotate/<int:dataset_id>/import/refused.csv", views.refused_rows_download, name="import_refused"),
    path("annotate/<int:dataset_id>/export/", views.export_start, name="export"),
    path("annotate/<int:dataset_id>/annotations.csv", views.csv_download, name="csv"),
    path("annotate/<int:dataset_id>/label_map.pbtxt", views.label_map_download, name="label_map"),
    path("annotate/<int:dataset_id>/preannotate/", views.preannotate_start, name="preannotate"),
    path("annotate/exports/<int:job_id>/", views.export_download, name="export_download"),
    path("detect/", views.detect_page, name="detect"),
    path("detect/<int:photo_id>/", views.detect_result, name="detect_result"),
]
api_urlpatterns = [
    path("annotation/images/<int:image_id>", views.api_image, name="annotation_image"),
    path("annotation/images/<int:image_id>/boxes", views.api_boxes, name="annotation_boxes"),
    path("annotation/images/<int:image_id>/boxes/<int:box_id>", views.api_box, name="annotation_box"),
    path("annotation/images/<int:image_id>/state", views.api_image_state, name="annotation_state"),
    path("detect", views.api_detect, name="detect"),
]
