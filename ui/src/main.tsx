/** The console: sign-in, the nav bar, and a page per hash route. */
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { call, token, whenSignedOut } from './api.ts';
import { CampaignEditPage } from './edit/campaigns.tsx';
import { DatabasePage, DatabasesPage, NewDatabasePage } from './edit/databases.tsx';
import { ImportPage } from './edit/import.tsx';
import { NewProfilePage } from './edit/profiles.tsx';
import { ResourcePage, ResourcesPage } from './edit/resources.tsx';
import { TemplatePage, TemplatesPage } from './edit/templates.tsx';
import { TokensPage } from './edit/tokens.tsx';
import { NewWebhookPage, WebhookPage, WebhooksPage } from './edit/webhooks.tsx';
import { CampaignPage, CampaignsPage } from './pages/campaigns.tsx';
import { LaunchPage } from './pages/launches.tsx';
import { MessagePage, MessagesPage } from './pages/messages.tsx';
import { OutboxPage } from './pages/outbox.tsx';
import { OverviewPage } from './pages/overview.tsx';
import { ProfilesPage } from './pages/profiles.tsx';
import { type Me, MeContext } from './role.ts';
import { type Route, useRoute } from './router.ts';
import './style.css';

/** The sections, and the access a token needs to see each (tokens/me's `access`). */
const NAV = [
  ['', 'Overview', 'read'],
  ['campaigns', 'Campaigns', 'read'],
  ['messages', 'Messages', 'read'],
  ['outbox', 'Outbox', 'read'],
  ['profiles', 'Profiles', 'read'],
  ['templates', 'Templates', 'read'],
  ['resources', 'Resources', 'read'],
  ['databases', 'Databases', 'read'],
  ['webhooks', 'Webhooks', 'read'],
  ['tokens', 'Tokens', 'admin'],
] as const;

function SignIn({ onSignedIn }: { onSignedIn: () => void }) {
  const [value, setValue] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      // tokens/me proves the token whatever its role.
      await call('tokens/me', {}, {}, value.trim());
      token.set(value.trim());
      onSignedIn();
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="signin">
      <form class="card" onSubmit={submit}>
        <h1>
          <span class="logo">Salvo</span> console
        </h1>
        <p class="muted">Sign in with an API token. Create one where Salvo runs: <code>npm run salvo -- token create --name &lt;you&gt; --role editor</code> in its checkout, <code>salvo token create --name &lt;you&gt; --role editor</code> where it is installed (Salvo's start-up banner shows the command for its store). The token is kept in this tab only.</p>
        <label>
          API token
          <input type="password" name="token" autoComplete="off" value={value} onInput={(e) => setValue(e.currentTarget.value)} required />
        </label>
        {error && (
          <div class="error" role="alert">
            {error}
          </div>
        )}
        <button type="submit" disabled={busy}>
          {busy ? 'Checking…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}

/** `new` for a new entry, else the id: `#/templates/new`, `#/templates/3`. */
const entry = (id: string) => (id === 'new' ? null : Number(id));

function Content({ route }: { route: Route }) {
  const [section, id, sub] = route.path;
  switch (section ?? '') {
    case '':
      return <OverviewPage />;
    case 'campaigns':
      if (id === 'new' || sub === 'edit') return <CampaignEditPage id={entry(id)} />;
      return id ? <CampaignPage id={Number(id)} /> : <CampaignsPage />;
    case 'launches':
      return <LaunchPage id={Number(id)} />;
    case 'templates':
      return id ? <TemplatePage id={entry(id)} /> : <TemplatesPage />;
    case 'resources':
      return id ? <ResourcePage id={entry(id)} /> : <ResourcesPage />;
    case 'databases':
      return id === 'new' ? <NewDatabasePage /> : id ? <DatabasePage id={Number(id)} /> : <DatabasesPage />;
    case 'webhooks':
      return id === 'new' ? <NewWebhookPage /> : id ? <WebhookPage id={Number(id)} /> : <WebhooksPage />;
    case 'tokens':
      return <TokensPage />;
    case 'messages':
      return id ? <MessagePage id={Number(id)} /> : <MessagesPage query={route.query} />;
    case 'outbox':
      return <OutboxPage id={id ? Number(id) : null} query={route.query} />;
    case 'profiles':
      return id === 'new' ? <NewProfilePage query={route.query} /> : id === 'import' ? <ImportPage /> : <ProfilesPage query={route.query} />;
    default:
      return <p class="error">No page here: #{route.path.join('/')}</p>;
  }
}

function App() {
  const route = useRoute();
  const [signedIn, setSignedIn] = useState(() => token.get() !== null);
  const [me, setMe] = useState<Me | null>(null);
  const [menuOpen, setMenuOpen] = useState(false);
  useEffect(() => {
    if (!signedIn) return setMe(null);
    call('tokens/me').then((a) => setMe(a.data), () => {});
  }, [signedIn]);
  useEffect(() => setMenuOpen(false), [route]);
  useEffect(
    () =>
      whenSignedOut(() => {
        token.clear();
        setSignedIn(false);
      }),
    [],
  );
  if (!signedIn) return <SignIn onSignedIn={() => setSignedIn(true)} />;
  if (!me) return <p class="muted main">Loading…</p>;
  const section = route.path[0] ?? '';
  return (
    <MeContext.Provider value={me}>
      <nav class="nav" aria-label="Sections">
        <a class="logo" href="#/">
          Salvo
        </a>
        <button type="button" class="menu-toggle" aria-expanded={menuOpen} aria-controls="nav-links" onClick={() => setMenuOpen(!menuOpen)}>
          Menu
        </button>
        <div id="nav-links" class={`nav-links${menuOpen ? ' open' : ''}`}>
          {NAV.filter(([, , need]) => me.access.includes(need)).map(([path, label]) => (
            <a href={`#/${path}`} class={section === path ? 'active' : ''} aria-current={section === path ? 'page' : undefined} onClick={() => setMenuOpen(false)}>
              {label}
            </a>
          ))}
          <span class="spacer" />
          <span class="who" title={me.grants}>
            {me.name} ({me.role})
          </span>
          <button
          type="button"
          class="link"
          onClick={() => {
            token.clear();
            setSignedIn(false);
          }}
        >
          Sign out
        </button>
        </div>
      </nav>
      <main class="main">
        <Content route={route} />
      </main>
    </MeContext.Provider>
  );
}

render(<App />, document.getElementById('app')!);
