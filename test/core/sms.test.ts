/** The pure parts of SMS: receipts, the state of a message from its parts' receipts, secrets in URLs, GSM/UCS-2 splitting. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { redactUrl } from '../../src/core/resource-secrets.ts';
import { messageStateOf, parseReceipt } from '../../src/core/sms-receipt.ts';
import { encodeSms } from '../../src/delivery/sms/gsm.ts';

test('a receipt is read from its text, the TLVs winning', () => {
  const text = 'id:0123abc sub:001 dlvrd:001 submit date:2611281200 done date:2611281201 stat:DELIVRD err:000 text:Hello';
  assert.deepEqual(parseReceipt(text), { id: '0123abc', stat: 'DELIVRD', err: '000' });
  assert.deepEqual(parseReceipt(text, { receipted_message_id: 'tlv-id', message_state: 5 }), { id: 'tlv-id', stat: 'UNDELIV', err: '000' });
  assert.equal(parseReceipt('hello there'), null);
});

test('several parts: delivered when all are, undelivered as soon as one cannot be', () => {
  assert.equal(messageStateOf(['DELIVRD']), 'delivered');
  assert.equal(messageStateOf(['DELIVRD', null]), 'sent');
  assert.equal(messageStateOf(['DELIVRD', 'ENROUTE']), 'sent');
  assert.equal(messageStateOf([null, 'EXPIRED']), 'undelivered');
  assert.equal(messageStateOf(['DELIVRD', 'DELIVRD', 'DELIVRD']), 'delivered');
});

test('a URL shows no password and no query value but placeholders', () => {
  assert.equal(redactUrl('smpp://shop:pw@smsc.example:2775'), 'smpp://shop:********@smsc.example:2775');
  assert.equal(redactUrl('https://gw.example/send/{to}?key=abc&to={to}&t={text}'), 'https://gw.example/send/{to}?key=********&to={to}&t={text}');
  assert.equal(redactUrl('https://gw.example/send'), 'https://gw.example/send');
});

test('GSM texts split at 153 septets without cutting an escape; UCS-2 at 67 units without cutting a surrogate pair', () => {
  assert.deepEqual(encodeSms('a'.repeat(160), 1).parts.map((p) => p.length), [160]);
  const gsm = encodeSms('a'.repeat(152) + '€' + 'b'.repeat(10), 9);
  assert.equal(gsm.dataCoding, 0);
  assert.deepEqual(gsm.parts.map((p) => p.length), [6 + 152, 6 + 12]);
  assert.deepEqual([...gsm.parts[1].subarray(0, 6)], [5, 0, 3, 9, 2, 2]);
  assert.deepEqual(encodeSms('я'.repeat(70), 1).parts.map((p) => p.length), [140]);
  const emoji = encodeSms('😀'.repeat(40), 1);
  assert.equal(emoji.dataCoding, 8);
  assert.deepEqual(emoji.parts.map((p) => p.length), [6 + 132, 6 + 28]);
});
