"""FAQ entries, edited per language by supervisors, with a preview of what callers hear."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for

from agent_console.blueprint import bp
from agent_console.forms import FaqForm
from agent_console.i18n import translate
from agent_console.security import role_required
from agent_console.services import faq_desk
from agent_console.views.common import current_actor, settings
from madoguchi.db import get_session
from madoguchi.models import FaqEntry
from madoguchi.voice.audio import audio_folder, faq_key


@bp.get("/faq")
@role_required("supervisor")
def faq():
    """Every FAQ entry with its texts per language."""
    return render_template(
        "console/faq.html", entries=faq_desk.entries(get_session()),
        languages=settings().languages.offered, texts_of=faq_desk.texts_by_language,
    )


@bp.route("/faq/new", methods=["GET", "POST"], defaults={"entry_id": None})
@bp.route("/faq/<int:entry_id>", methods=["GET", "POST"])
@role_required("supervisor")
def faq_edit(entry_id: int | None):
    """Create or edit an entry: title and spoken answer for each offered language."""
    session = get_session()
    entry = session.get(FaqEntry, entry_id) if entry_id is not None else None
    if entry_id is not None and entry is None:
        abort(404)
    languages = settings().languages.offered
    form = FaqForm(
        formdata=None if request.method == "GET" else request.form,
        position=entry.position if entry else 0,
        active=entry.active if entry else True,
    )
    existing = faq_desk.texts_by_language(entry)
    typed = {
        language: faq_desk.FaqInput(
            language=language,
            title=request.form.get(f"title_{language}",
                                   existing[language].title if language in existing else ""),
            answer=request.form.get(f"answer_{language}",
                                    existing[language].answer if language in existing else ""),
        )
        for language in languages
    }
    status = 200
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                saved = faq_desk.save(session, current_actor(), entry,
                                      position=form.position.data, active=form.active.data,
                                      texts=list(typed.values()))
            except faq_desk.FaqError as exc:
                flash(f"{translate('form_invalid')} ({exc})", "error")
                status = 400
            else:
                flash(translate("faq_saved"), "success")
                return redirect(url_for("console.faq_edit", entry_id=saved.id))
        else:
            flash(translate("form_invalid"), "error")
            status = 400
    previews = {
        language: faq_desk.spoken_preview(language, item.title, item.answer)
        for language, item in typed.items()
    }
    recorded = audio_folder(settings())
    recordings = {
        language: url_for("ivr.audio", lang=language, key=faq_key(entry.id))
        for language in languages
        if entry is not None and recorded is not None
        and (recorded / language / f"{faq_key(entry.id)}.mp3").is_file()
    }
    return render_template("console/faq_edit.html", form=form, entry=entry, typed=typed,
                           previews=previews, languages=languages, recordings=recordings,
                           speech_language=faq_desk.speech_language), status
