"""The console's forms (Flask-WTF: every POST carries a CSRF token); labels come from i18n."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    HiddenField,
    IntegerField,
    PasswordField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from agent_console.i18n import LANGUAGES
from agent_console.services.operator_reach import REACH_CHOICES
from madoguchi.models import INQUIRY_STATUSES, ROLES
from madoguchi.query_values import MAX_ID

# A record's id as a form posts it: past what the database's integer column holds, the form is
# refused like any other bad value (the driver would raise on it).
AN_ID = NumberRange(min=1, max=MAX_ID)
# An operator to assign, 0 for nobody.
AN_ASSIGNEE = NumberRange(min=0, max=MAX_ID)


class LoginForm(FlaskForm):
    """Username and password, plus where to go afterwards."""

    username = StringField(validators=[DataRequired(), Length(max=60)])
    password = PasswordField(validators=[DataRequired(), Length(max=200)])
    next = HiddenField()


class LanguageForm(FlaskForm):
    """The operator's console language."""

    language = SelectField(choices=list(LANGUAGES))


class ActionForm(FlaskForm):
    """A button that only needs its CSRF token (reveal a number, disable a user, …)."""


class BookForm(FlaskForm):
    """Book the chosen slot for the resident on the page."""

    slot_id = IntegerField(validators=[InputRequired(), AN_ID])


class BookBeyondCapacityForm(FlaskForm):
    """A supervisor books a full slot as an exception, saying why."""

    slot_id = IntegerField(validators=[InputRequired(), AN_ID])
    reason = StringField(validators=[DataRequired(), Length(max=200)])


class MoveForm(FlaskForm):
    """Move a booking to another slot."""

    reference = HiddenField(validators=[DataRequired()])
    slot_id = IntegerField(validators=[InputRequired(), AN_ID])


class CancelForm(FlaskForm):
    """Cancel a booking, with an optional reason."""

    reference = HiddenField(validators=[DataRequired()])
    reason = StringField(validators=[Optional(), Length(max=200)])


class InquiryCreateForm(FlaskForm):
    """A new inquiry, optionally for a resident."""

    category = StringField(validators=[DataRequired(), Length(max=40)])
    subject = StringField(validators=[DataRequired(), Length(max=300)])
    note = TextAreaField(validators=[Optional(), Length(max=4000)])
    contact_phone = StringField(validators=[Optional(), Length(max=40)])
    due_date = DateField(validators=[Optional()])
    resident_id = HiddenField()
    assigned_to = IntegerField(validators=[Optional(), AN_ASSIGNEE], default=0)


class InquiryUpdateForm(FlaskForm):
    """Status, assignment, a staff note and a public update."""

    status = SelectField(choices=list(INQUIRY_STATUSES))
    assigned_to = IntegerField(validators=[Optional(), AN_ASSIGNEE], default=0)
    category = StringField(validators=[DataRequired(), Length(max=40)])
    due_date = DateField(validators=[Optional()])
    note = TextAreaField(validators=[Optional(), Length(max=4000)])
    public_text = TextAreaField(validators=[Optional(), Length(max=1000)])


class FaqForm(FlaskForm):
    """A FAQ entry's order and whether the phone line offers it; texts are per language."""

    position = IntegerField(validators=[InputRequired(), NumberRange(min=0, max=999)])
    active = BooleanField()


class UserCreateForm(FlaskForm):
    """A new console user."""

    username = StringField(validators=[DataRequired(), Length(max=60)])
    display_name = StringField(validators=[DataRequired(), Length(max=100)])
    password = PasswordField(validators=[DataRequired(), Length(max=200)])
    role = SelectField(choices=list(ROLES))
    language = SelectField(choices=list(LANGUAGES))


class PasswordChangeForm(FlaskForm):
    """The user's own new password, with the current one and the new one twice."""

    current_password = PasswordField(validators=[DataRequired(), Length(max=200)])
    new_password = PasswordField(validators=[DataRequired(), Length(max=200)])
    repeat_password = PasswordField(validators=[DataRequired(), Length(max=200)])


class PasswordSetForm(FlaskForm):
    """A new password an admin sets for a user, twice."""

    new_password = PasswordField(validators=[DataRequired(), Length(max=200)])
    repeat_password = PasswordField(validators=[DataRequired(), Length(max=200)])


class SmsForm(FlaskForm):
    """A text to one of the resident's numbers: a booking confirmation or a short note."""

    phone_id = IntegerField(validators=[Optional(), AN_ID])
    kind = SelectField(choices=["booking", "text"])
    reference = StringField(validators=[Optional(), Length(max=12)])
    # The service enforces the real limit with a message giving the count; this stops abuse.
    text = TextAreaField(validators=[Optional(), Length(max=2000)])


class OperatorSettingsForm(FlaskForm):
    """The operator's own settings: console language and how calls reach them."""

    language = SelectField(choices=list(LANGUAGES))
    large_text = BooleanField()
    reach_by = SelectField(choices=list(REACH_CHOICES))
    phone = StringField(validators=[Optional(), Length(max=40)])
