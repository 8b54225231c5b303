// The screens of the dashboard, communications, sending and bulk sends.

import { dashboardView } from './dashboard.js';
import { communicationsView, communicationView } from './communications.js';
import { sendView } from './send.js';
import { bulkView, batchView } from './bulk.js';

export const communicationRoutes = [
  { path: '/', title: 'Dashboard', view: dashboardView },
  { path: '/communications', title: 'Communications', view: communicationsView },
  { path: '/communications/:id', title: 'Communication', view: communicationView },
  { path: '/send', title: 'Send', view: sendView },
  { path: '/bulk', title: 'Bulk send', view: bulkView },
  { path: '/batches/:id', title: 'Batch', view: batchView },
];
