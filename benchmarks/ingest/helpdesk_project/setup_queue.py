"""Run with `manage.py shell < setup_queue.py`: the one helpdesk queue, reading the benchmark
mailbox over IMAP (plain, loopback). Reads HD_IMAP_PORT, HD_IMAP_USER, HD_IMAP_PASSWORD."""
import os

from helpdesk.models import Queue

Queue.objects.all().delete()
Queue.objects.create(
    title="Bench", slug="bench", email_address="desk@example.com", allow_email_submission=True,
    email_box_type="imap", email_box_host="127.0.0.1", email_box_port=int(os.environ["HD_IMAP_PORT"]),
    email_box_ssl=False, email_box_user=os.environ["HD_IMAP_USER"], email_box_pass=os.environ["HD_IMAP_PASSWORD"],
    email_box_imap_folder="INBOX", email_box_interval=0,
)
