"""Issue 24.5: the approval card shows every argument on its own line, redacted, bounded, the whole a click away."""
from __future__ import annotations

from halion_nb.core.approval import ApprovalRequest
from halion_nb.widgets import find, find_all
from halion_nb.widgets.approval import ARGUMENT_CHARS, ApprovalCard

SECRET = "tok-9f8e7d6c5b4a3210"


def redact(text: str) -> str:
    return text.replace(SECRET, "***")


def test_a_long_first_argument_never_hides_the_next() -> None:
    request = ApprovalRequest(tool="write_file", caller="chat",
                              arguments={"content": "x" * 50_000, "path": "/etc/passwd"})
    card = ApprovalCard(request, redact)
    rows = find_all(card, "halion-approval-arg")
    assert len(rows) == 2
    content, path = find(card, "halion-approval-arg-content"), find(card, "halion-approval-arg-path")
    assert "/etc/passwd" in path.value
    assert content.value.count("x") <= ARGUMENT_CHARS + 10 and "…" in content.value
    show = find(card, "halion-approval-show-all")
    assert show.description == "Show all 50,000 characters"
    show.click()
    assert content.value.count("x") == 50_000 and show.layout.display == "none"


def test_each_argument_is_redacted_before_it_is_cut() -> None:
    # the secret straddles the 2,000-character cut: it must not leave its first half
    value = "a" * (ARGUMENT_CHARS - 8) + SECRET
    card = ApprovalCard(ApprovalRequest(tool="t", caller="chat", arguments={"header": value, "token": SECRET}), redact)
    for row in find_all(card, "halion-approval-arg"):
        assert SECRET[:8] not in row.value
    find(card, "halion-approval-show-all").click() if find_all(card, "halion-approval-show-all") else None
    assert "***" in find(card, "halion-approval-arg-token").value
    assert all(SECRET[:8] not in r.value for r in find_all(card, "halion-approval-arg"))


def test_html_in_a_value_is_shown_as_text_and_a_chain_is_named() -> None:
    card = ApprovalCard(ApprovalRequest(tool="rm", caller="chat", arguments={"p": "<img src=x onerror=alert(1)>"},
                                        chain=("tidy",)), redact)
    assert "<img" not in find(card, "halion-approval-arg-p").value
    assert "tidy" in find(card, "halion-approval-title").value


def test_arguments_that_are_not_an_object_are_one_row() -> None:
    card = ApprovalCard(ApprovalRequest(tool="t", caller="chat", arguments="not json {"), redact)
    assert "not json {" in find(card, "halion-approval-arg-arguments").value


def test_many_arguments_are_bounded_too_and_all_a_click_away() -> None:
    from halion_nb.widgets.approval import ARGUMENT_ROWS

    arguments = {f"k{i}": i for i in range(500)}
    card = ApprovalCard(ApprovalRequest(tool="t", caller="chat", arguments=arguments), redact)
    assert len(find_all(card, "halion-approval-arg")) == ARGUMENT_ROWS
    more = find(card, "halion-approval-more-args")
    assert more.description == f"Show {500 - ARGUMENT_ROWS} more arguments"
    more.click()
    assert len(find_all(card, "halion-approval-arg")) == 500 and ">499</pre>" in find(card, "halion-approval-arg-k499").value
