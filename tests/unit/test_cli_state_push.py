"""`state push` refuses a file that is not a state document in one line, and writes nothing."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("content, message", [
    (b"\xff\xfe{", "not a JSON state document (not UTF-8 text at byte 0)"),
    (b'{"format_version": 1,', "not a JSON state document (Expecting property name enclosed in "
                               "double quotes at line 1)"),
])
def test_a_file_that_is_not_a_state_document_is_refused(ecpctl, tmp_path, content, message):
    doc = tmp_path / "state.json"
    doc.write_bytes(content)
    r = ecpctl("state", "push", str(doc))
    assert r.exit_code == 1
    assert r.output == f"Error: {doc}: {message}\n"
    assert not ecpctl.data_dir.exists()
