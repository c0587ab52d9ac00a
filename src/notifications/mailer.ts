/** Outgoing e-mail: SMTP through nodemailer when LATCHKEY_SMTP_URL is set, otherwise disabled. */
import nodemailer from 'nodemailer';

export interface OutgoingMail {
  readonly to: string;
  readonly subject: string;
  readonly text: string;
  readonly html: string;
}

export interface Mailer {
  /** False when no SMTP server is configured: the job still records notices and publishes events. */
  readonly enabled: boolean;
  /** Resolves once the SMTP server accepted the message; rejects otherwise. */
  send(mail: OutgoingMail): Promise<void>;
  close(): void;
}

export const disabledMailer: Mailer = {
  enabled: false,
  send: async () => {
    throw new Error('mail is disabled (LATCHKEY_SMTP_URL is not set)');
  },
  close: () => {},
};

/** `smtp://host:port`, `smtps://user:pass@host:465`, with nodemailer's URL options (`?pool=true`…). */
export function createSmtpMailer(url: string, from: string): Mailer {
  const transport = nodemailer.createTransport(url);
  return {
    enabled: true,
    async send(mail) {
      await transport.sendMail({ from, to: mail.to, subject: mail.subject, text: mail.text, html: mail.html });
    },
    close: () => transport.close(),
  };
}

export function createMailer(smtpUrl: string | null, from: string): Mailer {
  return smtpUrl ? createSmtpMailer(smtpUrl, from) : disabledMailer;
}
