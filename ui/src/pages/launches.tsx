/** A table of launches with their progress (the overview's recent launches, a campaign's launches), and one launch's page. */
import { type Campaign, get, handedOver, type Launch, settled } from '../api.ts';
import { Card, Fields, Json, Load, Page, Progress, StatusBadge, Time } from '../components.tsx';
import { campaignName, useCampaigns, useLoad } from '../hooks.ts';
import { href } from '../router.ts';

export function LaunchTable({ launches, campaigns }: { launches: Launch[]; campaigns?: Campaign[] }) {
  if (launches.length === 0) return <p class="muted">No launches yet.</p>;
  return (
    <table class="table">
      <thead>
        <tr>
          <th>Launch</th>
          {campaigns && <th>Campaign</th>}
          <th>Kind</th>
          <th>State</th>
          <th class="wide">Progress</th>
          <th class="num">Sent</th>
          <th class="num">Captured</th>
          <th class="num">Failed</th>
          <th class="num">Skipped</th>
          <th class="num">Pending</th>
          <th>Started</th>
        </tr>
      </thead>
      <tbody>
        {launches.map((l) => {
          const pending = l.counts.queued + l.counts.waiting + l.counts.sending;
          return (
            <tr key={l.id}>
              <td>
                <a href={`#/launches/${l.id}`}>#{l.id}</a>
              </td>
              {campaigns && (
                <td>
                  <a href={`#/campaigns/${l.campaign_id}`}>{campaignName(campaigns, l.campaign_id)}</a>
                </td>
              )}
              <td>{l.kind}</td>
              <td>
                <StatusBadge status={l.complete ? 'complete' : l.state === 'done' ? 'delivering' : l.state} />
              </td>
              <td class="wide">
                <Progress done={settled(l.counts)} failed={l.counts.failed} total={l.total} />
              </td>
              <td class="num">{handedOver(l.counts)}</td>
              <td class="num">{l.counts.captured}</td>
              <td class="num">{l.counts.failed}</td>
              <td class="num">{l.counts.skipped}</td>
              <td class="num">{pending}</td>
              <td>
                <Time iso={l.created} />
              </td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

/** One launch: its campaign, state and counts, its content, and its messages. */
export function LaunchPage({ id }: { id: number }) {
  const launch = useLoad(() => get('launches/get', { id }), [id], 5000);
  const campaigns = useCampaigns();
  return (
    <Page title={`Launch #${id}`} actions={<a class="button secondary" href={href('messages', { launch_id: id })}>Its messages</a>}>
      <Load loaded={launch}>
        {(l) => (
          <div class="grid2">
            <Card title="Launch">
              <Fields
                rows={[
                  ['Campaign', <a href={`#/campaigns/${l.campaign_id}`}>{campaignName(campaigns.value, l.campaign_id)}</a>],
                  ['Kind', l.kind],
                  ['State', <StatusBadge status={l.complete ? 'complete' : l.state === 'done' ? 'delivering' : l.state} />],
                  ['Progress', <Progress done={settled(l.counts)} failed={l.counts.failed} total={l.total} />],
                  ['Sent', handedOver(l.counts)],
                  ['Captured', l.counts.captured],
                  ['Failed', l.counts.failed ? <a href={href('messages', { launch_id: id, status: 'failed' })}>{l.counts.failed}</a> : 0],
                  ['Skipped', l.counts.skipped],
                  ['Started', <Time iso={l.created} />],
                ]}
              />
            </Card>
            <Card title="content">
              <Json value={l.content ?? null} />
            </Card>
          </div>
        )}
      </Load>
    </Page>
  );
}
