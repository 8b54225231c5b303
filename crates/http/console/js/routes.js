// Every screen of the console: its path (with `:params`), title and view.
// A view is `async (context) => Node`; `context` has `params`, `query`,
// `navigate(path, query)` and `refresh()`.

import { loginView, accountView } from './views/session.js';
import { communicationRoutes } from './views/communication-routes.js';
import { directoryRoutes } from './views/directory-routes.js';

export const routes = [
  { path: '/login', title: 'Log in', view: loginView },
  { path: '/account', title: 'Account', view: accountView },
  ...communicationRoutes,
  ...directoryRoutes,
];
