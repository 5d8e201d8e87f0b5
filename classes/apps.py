from django.apps import AppConfig


class ClassesConfig(AppConfig):
    name = "classes"
    verbose_name = "Classes and gradebooks"

    def ready(self) -> None:
        from classes.help import help_close_passed
        from classes.labs import version_for_learner
        from classes.services import class_event_relay
        from kubelab.events import user_event_relay_register
        from labs.library import version_chooser_register
        from labs.signals import attempts_graded

        # Learners' grading events also update the gradebooks of the classes they are in.
        user_event_relay_register(class_event_relay)
        # Which version of a lab written in the studio a learner works on: their class's.
        version_chooser_register(version_for_learner)
        # An exercise that passes closes its open "Ask for help" request.
        attempts_graded.connect(help_close_passed, dispatch_uid="classes-help-passed")
