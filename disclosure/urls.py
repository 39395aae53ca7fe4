from django.urls import path

from disclosure import views, views_complaints, views_lookup, views_notices

app_name = "disclosure"

urlpatterns = [
    path("", views.home, name="home"),
    path("policies/", views.policy_list, name="policies"),
    path("policies/<int:year>/", views.policy_list, name="policies-year"),
    path("policies/<int:year>/export.<str:fmt>", views.policy_export, name="policy-export"),
    path("policies/<int:year>/<slug:code>/", views.policy_detail, name="policy"),
    path("policies/<int:year>/<slug:code>/basis", views.policy_basis_file, name="policy-basis"),
    # 发放公示 and 制度文件
    path("notices/", views_notices.notice_list, name="notices"),
    path("notices/<int:pk>/", views_notices.notice_detail, name="notice"),
    path("documents/", views_notices.document_list, name="documents"),
    path("documents/<int:pk>/file", views_notices.document_file, name="document-file"),
    # 个人补贴查询: POST only for the query itself, so that nothing personal is ever in a URL.
    path("lookup/", views_lookup.lookup, name="lookup"),
    # 投诉举报/咨询
    path("complaints/", views_complaints.complaint_new, name="complaint-new"),
    path("complaints/status/", views_complaints.complaint_find, name="complaint-find"),
    path("complaints/<str:tracking_no>/", views_complaints.complaint_status, name="complaint-status"),
]
