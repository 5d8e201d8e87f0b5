#!/usr/bin/env python
"""Django's command-line utility; a bad setting ends with one line naming the variable."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kubelab.settings")
    from django.core.management import execute_from_command_line

    from kubelab.env import SettingError

    try:
        execute_from_command_line(sys.argv)
    except SettingError as exc:
        sys.stderr.write(f"kubelab: {exc}\n")
        sys.exit(2)


if __name__ == "__main__":
    main()
