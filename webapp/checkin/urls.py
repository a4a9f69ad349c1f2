from django.urls import path

from webapp.checkin import views

app_name = "checkin"
urlpatterns = [
    path("members/", views.member_list, name="member_list"),
    path("members/new/", views.member_create, name="member_create"),
    path("members/calibration/", views.calibration, name="calibration"),
    path("members/<int:member_id>/", views.member_detail, name="member_detail"),
    path("members/<int:member_id>/edit/", views.member_edit, name="member_edit"),
    path("members/<int:member_id>/delete/", views.member_delete, name="member_delete"),
    path("samples/<int:sample_id>/delete/", views.sample_delete, name="sample_delete"),
    path("checkin/", views.checkin_new, name="checkin_new"),
    path("checkin/<int:photo_id>/", views.checkin_result, name="checkin_result"),
    path("checkins/", views.checkin_log, name="log"),
]
api_urlpatterns = [path("checkins", views.checkin_api, name="api_checkins")]
