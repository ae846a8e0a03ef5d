import type { Logger } from 'pino';

/**
 * Sends alerts to an optional webhook as Slack-compatible JSON
 * (`{"text": …}`, what Slack's incoming webhooks and most chat tools accept).
 * Sending never blocks the caller: alerts queue (bounded, the oldest dropped
 * first with a log line) and go out one at a time, each with a timeout. A
 * failing webhook costs a log line, never scheduling.
 */
export class AlertSender {
  private readonly queue: string[] = [];
  private sending = false;
  private stopped = false;

  constructor(
    private readonly url: string,
    private readonly log: Logger,
    private readonly onOutcome: (ok: boolean) => void = () => undefined,
  ) {}

  send(text: string): void {
    if (this.url === '' || this.stopped) return;
    if (this.queue.length >= alertsQueuedMax) {
      this.queue.shift();
      this.log.warn({ queued: alertsQueuedMax }, 'alert queue full; dropped the oldest alert');
    }
    this.queue.push(text.slice(0, alertTextCharsMax));
    if (!this.sending) void this.drain();
  }

  stop(): void {
    this.stopped = true;
    this.queue.length = 0;
  }

  private async drain(): Promise<void> {
    this.sending = true;
    try {
      for (let text = this.queue.shift(); text !== undefined && !this.stopped; text = this.queue.shift()) {
        try {
          const response = await fetch(this.url, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ text }),
            signal: AbortSignal.timeout(alertTimeoutMs),
          });
          if (!response.ok) throw new Error(`HTTP ${response.status}`);
          this.onOutcome(true);
        } catch (error) {
          this.onOutcome(false);
          this.log.warn({ err: error }, 'the alert webhook failed');
        }
      }
    } finally {
      this.sending = false;
    }
  }
}

/** Alerts waiting to be sent. */
export const alertsQueuedMax = 100;
/** Longest alert text sent. */
export const alertTextCharsMax = 4000;
/** Time one webhook call may take. */
export const alertTimeoutMs = 5000;
