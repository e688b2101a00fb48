#!/usr/bin/env node
// Sends COUNT persistent messages msg---1..COUNT to queue-cluster over STOMP (stompit).
//
//   node produce.js [FAILOVER-URL] [COUNT]      (the URL: see brokers.js; COUNT defaults to 3)
//
// Each SEND asks for a receipt, and a message counts as sent only once its receipt is back:
// the master gives it after the message is stored (and synced to the slaves as `sync` says).
// If the connection drops first (the master died), ConnectFailover connects again through the
// list, which skips the dead broker and the slaves, and that message is sent again, so every
// "sent" line is a message the cluster has; one whose receipt was lost may arrive twice.
'use strict';

const { QUEUE, failover, connected } = require('./brokers');

const count = process.argv[3] ? parseInt(process.argv[3], 10) : 3;
if (!(count > 0)) {
  console.error(`bad COUNT ${process.argv[3]}`);
  process.exit(2);
}
let next = 1;

failover(process.argv).connect((error, client, reconnect, server) => {
  if (error) {
    console.error(`error: no broker accepted the connection: ${error.message}`);
    process.exit(1);
  }
  connected(client, server);
  let dropped = false;
  client.on('error', (e) => {
    if (dropped) return;
    dropped = true;
    if (next <= count) console.log(`no receipt for msg---${next} (${e.message}): reconnecting`);
    reconnect();
  });
  const sendNext = () => {
    if (dropped) return;
    if (next > count) {
      client.disconnect(() => console.log(`**** ${count} messages sent to the MQ`));
      return;
    }
    const body = `msg---${next}`;
    const onReceipt = () => {
      if (dropped) return;
      console.log(`sent ${body}`);
      next += 1;
      sendNext();
    };
    client.send({ destination: QUEUE, persistent: 'true' }, { onReceipt }).end(body);
  };
  sendNext();
});
