from django.apps import AppConfig


class ClassesConfig(AppConfig):
    name = "classes"
    verbose_name = "Classes and gradebooks"

    def ready(self) -> None:
        from classes.services import class_event_relay
        from kubelab.events import user_event_relay_register

        # Learners' grading events also update the gradebooks of the classes they are in.
        user_event_relay_register(class_event_relay)
