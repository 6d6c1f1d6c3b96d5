from common.widgets import FastSelect


def test_fast_select_marks_the_choice_and_escapes_labels():
    widget = FastSelect(choices=[("", "All"), ("1", "<b>ci</b>"), ("2", "deploy & run")])
    html = widget.render("pipeline", "2", attrs={"id": "id_pipeline"})
    assert html.startswith('<select id="id_pipeline" name="pipeline">')
    assert '<option value="2" selected>deploy &amp; run</option>' in html
    assert "&lt;b&gt;ci&lt;/b&gt;" in html and "<b>" not in html
    assert html.count(" selected") == 1
