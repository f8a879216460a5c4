"""Voice primitives shared by the line's webhooks and the menu: TwiML building, spoken
sentences, reading what callers pressed or said, recorded audio, the Twilio signature check and
the apology answer."""
