from django.urls import path

from disclosure import views

app_name = "disclosure"

urlpatterns = [
    path("", views.home, name="home"),
    path("policies/", views.policy_list, name="policies"),
    path("policies/<int:year>/", views.policy_list, name="policies-year"),
    path("policies/<int:year>/export.<str:fmt>", views.policy_export, name="policy-export"),
    path("policies/<int:year>/<slug:code>/", views.policy_detail, name="policy"),
    path("policies/<int:year>/<slug:code>/basis", views.policy_basis_file, name="policy-basis"),
]
