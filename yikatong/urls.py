from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import DefaultRouter

from banks.api import BankBatchViewSet, BankResultViewSet
from checks.api import FindingViewSet, PayoutChecksViewSet
from checks.api_reference import ReferenceLoadViewSet, ReferenceSourceViewSet
from disbursement.api_batches import BatchViewSet, PayoutReleaseViewSet
from disbursement.api_corrections import CorrectionViewSet, PayoutReissueViewSet
from disbursement.api_review import PayoutReviewViewSet
from jobs.api import JobViewSet
from org.api import DepartmentViewSet, MeView
from recipients.api import PayoutViewSet, RosterViewSet
from yikatong.views import healthz

router = DefaultRouter()
router.register("departments", DepartmentViewSet, basename="department")
router.register("jobs", JobViewSet, basename="job")
router.register("payouts", PayoutViewSet, basename="payout")
router.register("rosters", RosterViewSet, basename="roster")
# The payout's cross-check actions (/payouts/{code}/checks/, …/findings/, …/submit/) beside its own viewset.
router.register("payouts", PayoutChecksViewSet, basename="payout-checks")
router.register("payouts", PayoutReviewViewSet, basename="payout-review")  # …/approve/, …/return/, …/reviews/
router.register("findings", FindingViewSet, basename="finding")
router.register("payouts", PayoutReleaseViewSet, basename="payout-release")  # POST /payouts/{code}/release/
router.register("batches", BatchViewSet, basename="batch")
router.register("corrections", CorrectionViewSet, basename="correction")
router.register("payouts", PayoutReissueViewSet, basename="payout-reissue")  # POST /payouts/{code}/reissue/
router.register("reference-sources", ReferenceSourceViewSet, basename="reference-source")
router.register("reference-loads", ReferenceLoadViewSet, basename="reference-load")

# The banks' own API (token-authenticated, their batches only): /api/v1/bank/batches/…, /api/v1/bank/results/{id}/.
bank_router = DefaultRouter()
bank_router.include_root_view = False
bank_router.register("batches", BankBatchViewSet, basename="bank-batch")
bank_router.register("results", BankResultViewSet, basename="bank-result")

handler403 = "yikatong.views.permission_denied"

urlpatterns = [
    path("", include("disclosure.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/me/", MeView.as_view(), name="api-me"),
    path("api/v1/public/", include("policies.urls")),
    path("api/v1/public/", include("disclosure.api_urls")),
    path("api/v1/bank/", include(bank_router.urls)),
    path("api/v1/", include(router.urls)),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path("healthz", healthz, name="healthz"),
]
