from typing import Any

from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts and roles"

    def ready(self) -> None:
        # Thin receivers: what happens lives in kubelab.socket_control.
        from django.contrib.auth import get_user_model
        from django.contrib.auth.signals import user_logged_out
        from django.db.models.signals import m2m_changed, post_delete, post_save

        user_model = get_user_model()
        user_logged_out.connect(_logged_out, dispatch_uid="kubelab-sockets-logout")
        post_save.connect(_saved, sender=user_model, dispatch_uid="kubelab-sockets-disabled")
        post_delete.connect(_deleted, sender=user_model, dispatch_uid="kubelab-sockets-deleted")
        m2m_changed.connect(
            _roles_changed, sender=user_model.groups.through, dispatch_uid="kubelab-sockets-roles"
        )


def _logged_out(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    from kubelab.socket_control import user_sockets_end

    if user is not None:
        user_sockets_end(user_id=user.pk, reason="logged out")


def _saved(sender: Any, instance: Any, created: bool, **kwargs: Any) -> None:
    from kubelab.socket_control import user_sockets_end

    if not created and not instance.is_active:
        user_sockets_end(user_id=instance.pk, reason="account disabled")


def _deleted(sender: Any, instance: Any, **kwargs: Any) -> None:
    from kubelab.socket_control import user_sockets_end

    user_sockets_end(user_id=instance.pk, reason="account deleted")


def _roles_changed(sender: Any, instance: Any, action: str, **kwargs: Any) -> None:
    from kubelab.socket_control import user_sockets_recheck

    if action in ("post_remove", "post_clear") and hasattr(instance, "groups"):
        user_sockets_recheck(user_id=instance.pk)
