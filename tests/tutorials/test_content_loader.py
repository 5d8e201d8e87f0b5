"""The content loader: every chapter loads; a broken file is reported by file, line and field."""

from pathlib import Path

import pytest

from tutorials.content_loader import (
    CONTENT_DIR,
    LANGUAGES,
    ContentError,
    chapter_load,
    chapters_load,
)

EXPECTED_SLUGS = [
    "verify-cluster",
    "everyday-kubectl",
    "pods",
    "labels-annotations",
    "service-discovery",
    "replicasets",
    "daemonsets",
    "jobs",
]

GOOD_BODY = """
## First section {#first}

Some text.

```shell
kubectl get pods
```

### A detail {#detail}

```shell illustrative
kubectl label nodes worker-1 ssd=true
```
"""


def lesson_text(
    *,
    title: str = "Title",
    order: str = "3",
    exercises: str = "\n  - demo/first",
    body: str = GOOD_BODY,
    extra: str = "",
) -> str:
    return (
        f"---\ntitle: {title}\nsummary: A summary.\norder: {order}\n"
        f"exercises:{exercises}\n{extra}---\n{body}"
    )


def write_chapter(
    root: Path, name: str = "03-demo", en: str | None = None, zh: str | None = None
) -> Path:
    directory = root / name
    directory.mkdir(parents=True)
    (directory / "en.md").write_text(en if en is not None else lesson_text(), encoding="utf-8")
    (directory / "zh-hant.md").write_text(zh if zh is not None else lesson_text(), encoding="utf-8")
    return directory


def load_error(root: Path) -> str:
    with pytest.raises(ContentError) as caught:
        chapters_load(root)
    return str(caught.value)


def test_all_eight_chapters_load_in_order_with_both_languages() -> None:
    chapters = chapters_load()
    assert [chapter.slug for chapter in chapters] == EXPECTED_SLUGS
    assert [chapter.order for chapter in chapters] == list(range(1, 9))
    for chapter in chapters:
        assert set(chapter.lessons) == set(LANGUAGES)
        for lesson in chapter.lessons.values():
            assert lesson.title and lesson.summary
            assert lesson.headings, f"{lesson.source} has no sections"
            assert lesson.exercises, f"{lesson.source} links to no exercise"
            assert all(e.startswith(f"{chapter.slug}/") for e in lesson.exercises)


def test_languages_share_section_ids_and_exercises() -> None:
    for chapter in chapters_load():
        english, chinese = chapter.lesson("en"), chapter.lesson("zh-hant")
        assert [h.id for h in english.headings] == [h.id for h in chinese.headings]
        assert english.exercises == chinese.exercises
        assert english.title != chinese.title


def test_unknown_language_falls_back_to_english() -> None:
    chapter = chapter_load("pods")
    assert chapter.lesson("fr") is chapter.lesson("en")


def test_chapter_load_by_slug_and_unknown_slug() -> None:
    assert chapter_load("jobs").order == 8
    with pytest.raises(KeyError):
        chapter_load("no-such-chapter")


def test_valid_temporary_chapter_loads(tmp_path: Path) -> None:
    write_chapter(tmp_path)
    (chapter,) = chapters_load(tmp_path)
    lesson = chapter.lesson("en")
    assert (chapter.slug, chapter.order) == ("demo", 3)
    assert [(h.level, h.id, h.text) for h in lesson.headings] == [
        (2, "first", "First section"),
        (3, "detail", "A detail"),
    ]
    assert [(b.kind, b.illustrative) for b in lesson.code_blocks] == [
        ("shell", False),
        ("shell", True),
    ]
    # The body starts on the line after the closing '---' (front matter is 5 lines + 2 fences).
    assert lesson.body_first_line == 8
    assert lesson.headings[0].line == 9


def test_order_must_be_an_integer(tmp_path: Path) -> None:
    write_chapter(tmp_path, en=lesson_text(order='"three"'))
    message = load_error(tmp_path)
    assert message.endswith("03-demo/en.md:4: front matter field 'order' must be an integer")


def test_missing_title_names_the_field(tmp_path: Path) -> None:
    text = lesson_text().replace("title: Title\n", "")
    write_chapter(tmp_path, zh=text)
    message = load_error(tmp_path)
    assert "03-demo/zh-hant.md:1:" in message
    assert "missing required field 'title'" in message


def test_unknown_front_matter_field(tmp_path: Path) -> None:
    write_chapter(tmp_path, en=lesson_text(extra="author: somebody\n"))
    message = load_error(tmp_path)
    assert "en.md:7: front matter has unknown field 'author'" in message


def test_bad_exercise_id_points_at_its_line(tmp_path: Path) -> None:
    write_chapter(tmp_path, en=lesson_text(exercises="\n  - demo/first\n  - Not An Id"))
    message = load_error(tmp_path)
    assert "en.md:7:" in message
    assert "'exercises' item 2 ('Not An Id') is not an exercise id" in message


def test_invalid_yaml_reports_the_line(tmp_path: Path) -> None:
    write_chapter(tmp_path, en=lesson_text(extra="summary: [unclosed\n"))
    message = load_error(tmp_path)
    assert "en.md:" in message
    assert "front matter is not valid YAML" in message


def test_file_without_front_matter(tmp_path: Path) -> None:
    write_chapter(tmp_path, en="## Just a body {#body}\n")
    assert load_error(tmp_path).endswith(
        "en.md:1: file must start with a '---' line opening the YAML front matter"
    )


def test_order_must_match_folder_number(tmp_path: Path) -> None:
    write_chapter(tmp_path, en=lesson_text(order="4"), zh=lesson_text(order="4"))
    message = load_error(tmp_path)
    assert "en.md:4: front matter field 'order' is 4 but the folder is numbered 03" in message


def test_missing_language_file(tmp_path: Path) -> None:
    directory = write_chapter(tmp_path)
    (directory / "zh-hant.md").unlink()
    assert "zh-hant.md: missing the zh-hant lesson of chapter 'demo'" in load_error(tmp_path)


def test_bad_folder_name(tmp_path: Path) -> None:
    write_chapter(tmp_path, name="pods")
    assert "chapter folder name must look like 'NN-slug'" in load_error(tmp_path)


def test_heading_without_id(tmp_path: Path) -> None:
    body = GOOD_BODY.replace("### A detail {#detail}", "### A detail")
    write_chapter(tmp_path, en=lesson_text(body=body))
    message = load_error(tmp_path)
    assert "en.md:17: heading 'A detail' needs an explicit id" in message


def test_duplicate_heading_id(tmp_path: Path) -> None:
    body = GOOD_BODY.replace("{#detail}", "{#first}")
    write_chapter(tmp_path, en=lesson_text(body=body))
    assert "heading id 'first' is already used at line 9" in load_error(tmp_path)


def test_h1_in_body_is_refused(tmp_path: Path) -> None:
    write_chapter(tmp_path, en=lesson_text(body="# Title again {#title}\n" + GOOD_BODY))
    assert "en.md:8: '#' headings are not allowed" in load_error(tmp_path)


def test_languages_must_agree_on_sections(tmp_path: Path) -> None:
    body = GOOD_BODY.replace("{#detail}", "{#other}")
    write_chapter(tmp_path, zh=lesson_text(body=body))
    message = load_error(tmp_path)
    assert (
        "zh-hant.md:17: heading ### {#other} does not match the en lesson's ### {#detail}"
        in message
    )


def test_languages_must_agree_on_exercises(tmp_path: Path) -> None:
    write_chapter(tmp_path, zh=lesson_text(exercises="\n  - demo/first\n  - demo/second"))
    message = load_error(tmp_path)
    assert (
        "zh-hant.md:5: exercises ['demo/first', 'demo/second'] differ from the en lesson's"
        in message
    )


def test_languages_must_show_identical_commands(tmp_path: Path) -> None:
    body = GOOD_BODY.replace("kubectl get pods", "kubectl get pod")
    write_chapter(tmp_path, zh=lesson_text(body=body))
    message = load_error(tmp_path)
    assert "zh-hant.md:13: shell block 1 differs from the en lesson's block at line 13" in message


def test_unknown_fence_kind_and_flag(tmp_path: Path) -> None:
    write_chapter(tmp_path, en=lesson_text(body=GOOD_BODY.replace("```shell\n", "```bash\n", 1)))
    assert "en.md:13: code fence kind 'bash' is not one of" in load_error(tmp_path)

    other = tmp_path / "second"
    write_chapter(other, en=lesson_text(body=GOOD_BODY.replace("shell illustrative", "shell skip")))
    assert "unknown code fence flag 'skip' on 'shell'" in load_error(other)


def test_shell_blocks_hold_commands_only(tmp_path: Path) -> None:
    write_chapter(
        tmp_path, en=lesson_text(body=GOOD_BODY.replace("kubectl get pods", "$ kubectl get pods"))
    )
    assert "en.md:14: shell blocks hold commands without a '$ ' prompt" in load_error(tmp_path)

    other = tmp_path / "second"
    body = GOOD_BODY.replace("kubectl get pods", "# list them\nkubectl get pods")
    write_chapter(other, en=lesson_text(body=body))
    assert "en.md:14: shell blocks hold no comments" in load_error(other)


def test_unknown_callout_kind(tmp_path: Path) -> None:
    body = GOOD_BODY + "\n> [!DANGER]\n> Careful.\n"
    write_chapter(tmp_path, en=lesson_text(body=body))
    assert "unknown callout '[!DANGER]'" in load_error(tmp_path)


def test_exercise_link_must_be_listed(tmp_path: Path) -> None:
    body = GOOD_BODY + "\n> [!TRY-IT]\n> [Go](exercise:demo/unlisted)\n"
    write_chapter(tmp_path, en=lesson_text(body=body), zh=lesson_text(body=body))
    assert "link to exercise 'demo/unlisted' which is not listed" in load_error(tmp_path)


def test_picture_link_with_a_target_points_at_its_line(tmp_path: Path) -> None:
    body = GOOD_BODY + "\nWatch [the picture](picture:pods).\n"
    write_chapter(tmp_path, en=lesson_text(body=body))
    message = load_error(tmp_path)
    assert "03-demo/en.md:23: picture link 'picture:pods' names a target" in message
    assert "write '[text](picture:)'" in message


def test_picture_link_with_a_title_is_refused(tmp_path: Path) -> None:
    body = GOOD_BODY + '\nWatch [the picture](picture: "live").\n'
    write_chapter(tmp_path, en=lesson_text(body=body))
    assert "en.md:23: picture link has a title" in load_error(tmp_path)


def test_picture_link_loads(tmp_path: Path) -> None:
    body = GOOD_BODY + "\nWatch [the picture](picture:) as you go.\n"
    write_chapter(tmp_path, en=lesson_text(body=body), zh=lesson_text(body=body))
    (chapter,) = chapters_load(tmp_path)
    assert "(picture:)" in chapter.lesson("en").body_markdown


def test_real_content_dir_is_the_default() -> None:
    assert CONTENT_DIR.name == "content"
    assert chapters_load(CONTENT_DIR) == chapters_load()
