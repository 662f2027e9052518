/** A table of launches with their progress (the overview's recent launches, a campaign's launches), and one launch's page. */
import { type Campaign, get, handedOver, type Launch, settled } from '../api.ts';
import { Card, Fields, Json, ListTable, Load, Page, Progress, StatusBadge, Time } from '../components.tsx';
import { campaignName, useCampaigns, useLoad } from '../hooks.ts';
import { href } from '../router.ts';

export function LaunchTable({ launches, campaigns }: { launches: Launch[]; campaigns?: Campaign[] }) {
  const count = (head: string, n: (l: Launch) => number) => ({ head, cell: n, class: 'num' });
  return (
    <ListTable
      rows={launches}
      rowKey={(l) => l.id}
      empty="No launches yet."
      columns={[
        { head: 'Launch', cell: (l) => <a href={`#/launches/${l.id}`}>#{l.id}</a> },
        ...(campaigns ? [{ head: 'Campaign', cell: (l: Launch) => <a href={`#/campaigns/${l.campaign_id}`}>{campaignName(campaigns, l.campaign_id)}</a> }] : []),
        { head: 'Kind', cell: (l) => l.kind },
        { head: 'State', cell: (l) => <StatusBadge status={l.complete ? 'complete' : l.state === 'done' ? 'delivering' : l.state} /> },
        { head: 'Progress', cell: (l) => <Progress done={settled(l.counts)} failed={l.counts.failed} total={l.total} />, class: 'wide' },
        count('Sent', (l) => handedOver(l.counts)),
        count('Captured', (l) => l.counts.captured),
        count('Failed', (l) => l.counts.failed),
        count('Skipped', (l) => l.counts.skipped),
        count('Pending', (l) => l.counts.queued + l.counts.waiting + l.counts.sending),
        { head: 'Started', cell: (l) => <Time iso={l.created} /> },
      ]}
    />
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
