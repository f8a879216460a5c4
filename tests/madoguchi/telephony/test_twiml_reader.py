"""The simulator reads TwiML the way Twilio does, and never expands XML entities."""

from __future__ import annotations

import pytest

from madoguchi.telephony.twiml_reader import PARSE_FAILURE, TwimlError, parse


def test_a_plain_response_gives_its_verbs_in_order():
    verbs = parse('<?xml version="1.0" encoding="UTF-8"?><Response><Say>はい</Say>'
                  '<Hangup/></Response>')
    assert [verb.name for verb in verbs] == ["Say", "Hangup"]


def test_a_document_with_an_entity_bomb_is_refused_unexpanded():
    bomb = ('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
            '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>'
            '<Response><Say>&lol2;</Say></Response>')
    with pytest.raises(TwimlError) as refused:
        parse(bomb)
    assert refused.value.code == PARSE_FAILURE


def test_an_external_entity_is_never_fetched():
    external = ('<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
                '<Response><Say>&x;</Say></Response>')
    with pytest.raises(TwimlError):
        parse(external)
