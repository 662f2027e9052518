/** A/B variants: the choice by weight, stable per (campaign, profile); the content a message is sent with; the stats' folding. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { chooseVariant, variantContent, variantStats } from '../../src/core/variants.ts';

const ids = (n: number) => Array.from({ length: n }, (_, i) => i.toString(16).padStart(24, '0'));

describe('A/B variants', () => {
  it('splits by weight, the same way every time for a campaign and profile, and differently for another campaign', () => {
    const content = [{ message_id: 1, weight: 1 }, { message_id: 2, weight: 2 }, { message_id: 3 }];
    const counts = [0, 0, 0];
    const profiles = ids(40_000);
    for (const p of profiles) counts[chooseVariant(content, 7, p)]++;
    for (const [i, share] of [0.25, 0.5, 0.25].entries()) assert.ok(Math.abs(counts[i] / profiles.length - share) < 0.01, `variant ${i}: ${counts[i]}`);
    assert.deepEqual(profiles.map((p) => chooseVariant(content, 7, p)).slice(0, 200), profiles.map((p) => chooseVariant(content, 7, p)).slice(0, 200));
    const moved = profiles.slice(0, 1000).filter((p) => chooseVariant(content, 7, p) !== chooseVariant(content, 8, p)).length;
    assert.ok(moved > 300, 'another campaign splits independently');
    assert.equal(chooseVariant([{ message_id: 1 }], 7, profiles[0]), 0);
  });

  it('sends a message with its variant, or the first when the variant is gone or was never chosen', () => {
    const content = [{ message_id: 1 }, { message_id: 2, subject: 'B' }];
    assert.equal(variantContent(content, 1)?.message_id, 2);
    assert.equal(variantContent(content, 5)?.message_id, 1);
    assert.equal(variantContent(content, null)?.message_id, 1);
  });

  it('folds counts into one line per variant, old messages as variant 0, and no weight for a variant since replaced', () => {
    const content = [{ message_id: 1, weight: 3 }, { message_id: 9 }];
    const stats = variantStats(content, [
      { variant: null, template_id: null, status: 'sent', n: 2 },
      { variant: 0, template_id: 1, status: 'sent', n: 5 },
      { variant: 0, template_id: 1, status: 'skipped', n: 1 },
      { variant: 1, template_id: 2, status: 'queued', n: 4 },
    ]);
    assert.deepEqual(stats, [
      { variant: 0, message_id: null, weight: 3, total: 2, statuses: { sent: 2 } },
      { variant: 0, message_id: 1, weight: 3, total: 6, statuses: { sent: 5, skipped: 1 } },
      { variant: 1, message_id: 2, weight: null, total: 4, statuses: { queued: 4 } },
    ]);
  });
});
