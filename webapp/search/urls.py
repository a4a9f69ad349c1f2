from django.urls import path

from webapp.search import views

app_name = "search"
urlpatterns = [
    path("", views.gallery_list, name="galleries"),
    path("galleries/<int:dataset_id>/", views.gallery_detail, name="gallery"),
    path("galleries/<int:dataset_id>/photos/<int:image_id>/delete/", views.gallery_photo_delete, name="photo_delete"),
    path("galleries/<int:dataset_id>/embed/", views.gallery_embed, name="embed"),
    path("galleries/<int:dataset_id>/index/", views.index_build, name="index_build"),
    path("galleries/<int:dataset_id>/search/", views.search_start, name="search"),
    path("galleries/<int:dataset_id>/clusters/", views.gallery_clusters, name="clusters"),
    path("runs/<int:run_id>/", views.search_run, name="run"),
    path("classify/", views.classify, name="classify"),
    path("classify/<int:query_id>/", views.classify_result, name="classify_result"),
]
api_urlpatterns = [
    path("classify", views.classify_api, name="api_classify"),
    path("galleries/<int:dataset_id>/search", views.search_api, name="api_search"),
]
