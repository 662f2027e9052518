/** Overview: messages of the last hour and day by channel, the queue, recent launches; refreshed every 5 s. */
import { useState } from 'preact/hooks';
import { CHANNELS, type Counts, call } from '../api.ts';
import { Card, duration, Load, Page } from '../components.tsx';
import { useCampaigns, useLoad } from '../hooks.ts';
import { href } from '../router.ts';
import { LaunchTable } from './launches.tsx';

const REFRESH_MS = 5000;

function WindowTable({ title, counts }: { title: string; counts: Record<string, Counts> }) {
  // captured apart from sent: kept in the outbox because no provider is configured, it never left the server.
  const columns = ['sent', 'delivered', 'undelivered', 'captured', 'failed', 'skipped', 'queued', 'waiting', 'sending'] as const;
  return (
    <Card title={title}>
      <table class="table compact">
        <thead>
          <tr>
            <th>Channel</th>
            {columns.map((c) => (
              <th class="num">{c}</th>
            ))}
          </tr>
        </thead>
        <tbody>
          {CHANNELS.map((ch) => (
            <tr>
              <td>{ch}</td>
              {columns.map((c) => (
                <td class={`num ${counts[ch]?.[c] && (c === 'failed' || c === 'undelivered' ? 'bad' : c === 'sent' || c === 'delivered' ? 'good' : '')}`}>
                  <a href={href('messages', { channel: ch, status: c })}>{counts[ch]?.[c] ?? 0}</a>
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </Card>
  );
}

export function OverviewPage() {
  const [auto, setAuto] = useState(true);
  const refresh = auto ? REFRESH_MS : 0;
  const stats = useLoad(async () => (await call('messages/stats')).data, [], refresh);
  const launches = useLoad(async () => (await call('launches/list', { limit: 10 })).data, [], refresh);
  const campaigns = useCampaigns();
  return (
    <Page
      title="Overview"
      actions={
        <label class="inline">
          <input type="checkbox" checked={auto} onChange={(e) => setAuto(e.currentTarget.checked)} /> auto-refresh (5 s)
        </label>
      }
    >
      <Load loaded={stats}>
        {(s) => (
          <>
            <div class="tiles">
              <div class="tile">
                <div class="tile-value">{s.queue.queued}</div>
                <div class="tile-label">queued now</div>
              </div>
              <div class="tile">
                <div class="tile-value">{s.queue.waiting}</div>
                <div class="tile-label">waiting (retry or sending limit)</div>
              </div>
              {s.send_limits.map((l) => (
                <div class="tile" data-testid="send-limit">
                  <div class="tile-value">{duration(l.next_slot_seconds)}</div>
                  <div class="tile-label">
                    next {l.channel} slot of resource {l.resource_id} (sending limit)
                  </div>
                </div>
              ))}
              <div class="tile">
                <div class="tile-value">{s.queue.sending}</div>
                <div class="tile-label">sending</div>
              </div>
              <div class="tile">
                <div class="tile-value">{s.queue.oldest_queued_seconds === null ? '–' : duration(s.queue.oldest_queued_seconds)}</div>
                <div class="tile-label">oldest queued</div>
              </div>
              <div class="tile">
                <div class="tile-value">
                  {s.engagement.last_day.opened} / {s.engagement.last_day.clicked} / {s.engagement.last_day.unsubscribed}
                </div>
                <div class="tile-label">opened / clicked / unsubscribed (24 h)</div>
              </div>
              <div class="tile">
                <div class="tile-value">{(s.store_bytes / 1_048_576).toFixed(1)} MB</div>
                <div class="tile-label">store size</div>
              </div>
            </div>
            <div class="grid2">
              <WindowTable title="Last hour" counts={s.last_hour} />
              <WindowTable title="Last 24 hours" counts={s.last_day} />
            </div>
            <p class="muted small">Messages made in each window, by their status now. Updated {new Date(s.time).toLocaleTimeString()}.</p>
          </>
        )}
      </Load>
      <Card title="Recent launches">
        <Load loaded={launches}>{(list) => <LaunchTable launches={list} campaigns={campaigns.value ?? []} />}</Load>
      </Card>
    </Page>
  );
}
