from django.urls import path

from webapp.training import views
from webapp.training.detectors import views as detector_views

app_name = "training"
urlpatterns = [
    path("", views.training_home, name="home"),
    path("estimate/", views.training_estimate, name="estimate"),
    path("embeddings/", views.embedding_home, name="embeddings"),
    path("readers/", views.reader_home, name="readers"),
    path("read/", views.reader_read, name="read"),
    path("detectors/", detector_views.detector_home, name="detectors"),
    path("jobs/<int:job_id>/", views.training_job, name="job"),
    path("models/<int:mv_id>/", views.model_detail, name="model"),
    path("models/<int:mv_id>/files/<str:name>", views.model_file, name="model_file"),
    path("models/<int:mv_id>/activate/", views.model_activate, name="activate"),
    path("models/<int:mv_id>/predict/", views.model_predict, name="predict"),
    path("models/<int:mv_id>/activations/", views.model_activations, name="activations"),
    path("playground/", views.playground, name="playground"),
]
api_urlpatterns = [path("models/<int:mv_id>/predict", views.model_predict, name="api_predict"),
                   path("ocr", views.api_read, name="api_ocr")]
