// The screens of clients, departments, types and channels, operators and API keys.

import { apiKeysView } from './api-keys.js';
import { clientView, clientsView, newClientView } from './clients.js';
import { departmentView, departmentsView } from './departments.js';
import { dictionariesView } from './dictionaries.js';
import { operatorsView } from './operators.js';

export const directoryRoutes = [
  { path: '/clients', title: 'Clients', view: clientsView },
  // Before `/clients/:id`, which would take `new` for an id.
  { path: '/clients/new', title: 'New client', view: newClientView },
  { path: '/clients/:id', title: 'Client', view: clientView },
  { path: '/departments', title: 'Departments', view: departmentsView },
  { path: '/departments/:id', title: 'Department', view: departmentView },
  { path: '/dictionaries', title: 'Types & channels', view: dictionariesView },
  { path: '/operators', title: 'Operators', view: operatorsView },
  { path: '/api-keys', title: 'API keys', view: apiKeysView },
];
