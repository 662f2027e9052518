/** The console: sign-in, the nav bar, and a page per hash route. */
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { call, token, whenSignedOut } from './api.ts';
import { CampaignPage, CampaignsPage } from './pages/campaigns.tsx';
import { MessagePage, MessagesPage } from './pages/messages.tsx';
import { OutboxPage } from './pages/outbox.tsx';
import { OverviewPage } from './pages/overview.tsx';
import { ProfilesPage } from './pages/profiles.tsx';
import { type Route, useRoute } from './router.ts';
import './style.css';

const NAV = [
  ['', 'Overview'],
  ['campaigns', 'Campaigns'],
  ['messages', 'Messages'],
  ['outbox', 'Outbox'],
  ['profiles', 'Profiles'],
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
      // Any method proves the token; this one reads little.
      await call('campaigns/triggers/list', { limit: 1 }, {}, value.trim());
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
        <p class="muted">Sign in with an API token. Create one where Salvo runs: <code>npm run salvo -- token create --name &lt;you&gt;</code> in its checkout, <code>salvo token create --name &lt;you&gt;</code> where it is installed (Salvo's start-up banner shows the command for its store). The token is kept in this tab only.</p>
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

function Content({ route }: { route: Route }) {
  const [section, id] = route.path;
  switch (section ?? '') {
    case '':
      return <OverviewPage />;
    case 'campaigns':
      return id ? <CampaignPage id={Number(id)} /> : <CampaignsPage />;
    case 'messages':
      return id ? <MessagePage id={Number(id)} /> : <MessagesPage query={route.query} />;
    case 'outbox':
      return <OutboxPage id={id ? Number(id) : null} query={route.query} />;
    case 'profiles':
      return <ProfilesPage query={route.query} />;
    default:
      return <p class="error">No page here: #{route.path.join('/')}</p>;
  }
}

function App() {
  const route = useRoute();
  const [signedIn, setSignedIn] = useState(() => token.get() !== null);
  useEffect(
    () =>
      whenSignedOut(() => {
        token.clear();
        setSignedIn(false);
      }),
    [],
  );
  if (!signedIn) return <SignIn onSignedIn={() => setSignedIn(true)} />;
  const section = route.path[0] ?? '';
  return (
    <>
      <nav class="nav">
        <a class="logo" href="#/">
          Salvo
        </a>
        {NAV.map(([path, label]) => (
          <a href={`#/${path}`} class={section === path ? 'active' : ''}>
            {label}
          </a>
        ))}
        <span class="spacer" />
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
      </nav>
      <main class="main">
        <Content route={route} />
      </main>
    </>
  );
}

render(<App />, document.getElementById('app')!);
