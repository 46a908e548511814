// Entry points added after the first fuzz runs (reply helpers, builder round trip).
func exerciseExtras(_ message: MIMEMessage, _ summary: MessageSummary) {}
