from django.contrib import admin

from classes.models import ClassGradingRun, Classroom, Enrollment, HelpRequest


@admin.register(Classroom)
class ClassroomAdmin(admin.ModelAdmin):
    list_display = ("name", "owner", "join_open", "created_at")
    filter_horizontal = ("instructors",)
    search_fields = ("name",)


@admin.register(Enrollment)
class EnrollmentAdmin(admin.ModelAdmin):
    list_display = ("classroom", "student", "joined_at")
    list_select_related = ("classroom", "student")


@admin.register(ClassGradingRun)
class ClassGradingRunAdmin(admin.ModelAdmin):
    list_display = ("classroom", "requested_by", "started_at", "finished_at", "requested")


@admin.register(HelpRequest)
class HelpRequestAdmin(admin.ModelAdmin):
    list_display = ("student", "lab", "exercise", "asked_at", "closed_at", "closed_reason")
    list_filter = ("closed_reason",)
    list_select_related = ("student",)
