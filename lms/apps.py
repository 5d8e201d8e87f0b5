from django.apps import AppConfig


class LmsConfig(AppConfig):
    name = "lms"
    verbose_name = "LMS integration (LTI 1.3)"

    def ready(self) -> None:
        from classes.extras import gradebook_extra_register
        from labs.signals import attempts_graded
        from lms.gradebook import lms_gradebook_extra
        from lms.passback import passbacks_for_gradings

        # Every conclusive grading, by any path (Check, the watcher, a class run, a regrade),
        # may change a score an LMS holds; the receiver is one query when nothing is linked.
        attempts_graded.connect(passbacks_for_gradings, dispatch_uid="lms-passback")
        # The gradebook of a class linked to an LMS course shows the link and each score sent.
        gradebook_extra_register(lms_gradebook_extra)
