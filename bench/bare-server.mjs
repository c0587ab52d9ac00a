// The baseline of `npm run bench`: a bare node:http server answering 204 to every request, in its own
// process, on a port the OS picks (printed as "listening on <url>"). Plain JavaScript, nothing loaded.
import { createServer } from 'node:http';

const server = createServer((request, response) => {
  // Drain any body (the creates send one) before answering, as a real server must.
  request.resume();
  request.on('end', () => {
    response.statusCode = 204;
    response.end();
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`listening on http://127.0.0.1:${server.address().port}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
