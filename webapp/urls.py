from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from webapp.annotation.urls import api_urlpatterns as annotation_api
from webapp.checkin.urls import api_urlpatterns as checkin_api
from webapp.core import views as core
from webapp.jobs.urls import api_urlpatterns as jobs_api
from webapp.search.urls import api_urlpatterns as search_api
from webapp.training.urls import api_urlpatterns as training_api

urlpatterns = [
    path("", core.home, name="home"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("jobs/", include("webapp.jobs.urls")),
    path("datasets/", include("webapp.datasets.urls")),
    path("api/", include((jobs_api + checkin_api + training_api + search_api + annotation_api, "api"))),
    path("training/", include("webapp.training.urls")),
    path("search/", include("webapp.search.urls")),
    path("media/<path:path>", core.media, name="media"),
    path("healthz", core.healthz, name="healthz"),
    path("", include("webapp.annotation.urls")),
    path("", include("webapp.checkin.urls")),
]
handler403 = "webapp.core.api_errors.permission_denied"
handler404 = "webapp.core.api_errors.not_found"
handler500 = "webapp.core.api_errors.server_error"
