/** The copy of a sent email (core/sent-copy.ts) stays bounded whatever the launch carried. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { emailCopy } from '../../src/core/sent-copy.ts';

test("an email's copy: text cut at the body's limit, 50 attachments listed and the rest counted, long values cut", () => {
  const attachments = Array.from({ length: 60 }, (_, i) => ({ name: `f${i}.txt`, mime: 'text/plain', size: i }));
  const copy = emailCopy(
    { from: { email: 'a@shop.example', name: 'A'.repeat(2000) }, to: 'b@example.com', text: 'x'.repeat(5000) },
    { 'List-Unsubscribe': `<https://shop.example/u/${'k'.repeat(3000)}>`, 'Message-ID': '<1@shop.example>' },
    attachments,
    null,
    300,
  );
  assert.equal(copy.text?.length, 300);
  assert.equal(copy.attachments.length, 50);
  assert.equal(copy.attachments_more, 10);
  assert.equal(copy.headers['List-Unsubscribe'].length, 1000);
  assert.equal(copy.headers['Message-ID'], '<1@shop.example>');
  assert.equal(copy.from.length, 1000);
  assert.equal(copy.reply_to, null);
  assert.ok(JSON.stringify(copy).length < 300 + 50 * 60 + 3 * 1000 + 500, 'a few kilobytes beyond the text');
});
