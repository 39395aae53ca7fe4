from jobs.models import Job


def jobs_visible_to(user):
    """A job is seen by county-wide roles, its department, and the person who started it."""
    scoped = Job.objects.visible_to(user)
    if user.is_authenticated:
        scoped = scoped | Job.objects.filter(created_by=user)
    return scoped.order_by("-id")
