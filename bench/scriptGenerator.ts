/** Generates large, realistic `.smtp` scripts for benchmarks and stress tests. */
export function generateScript(lines: number): string {
  const out: string[] = ['@server = smtp://127.0.0.1:2525', '@from = alice@example.test', ''];
  let session = 0;
  while (out.length < lines) {
    session++;
    out.push(
      `### Session ${session}`,
      `# @name session-${session}`,
      'CONNECT {{server}}',
      'EHLO client.example.test',
      'MAIL FROM:<{{from}}> SIZE=1000 BODY=8BITMIME',
      `RCPT TO:<user${session}@example.test> NOTIFY=SUCCESS,FAILURE`,
      'EXPECT 250 2.1.5',
      'DATA',
      'From: Alice <alice@example.test>',
      `To: <user${session}@example.test>`,
      `Subject: message ${session}`,
      'Date: Mon, 23 Nov 2026 04:19:27 +0000',
      `Message-ID: <m${session}@example.test>`,
      '',
      'Hello,',
      '..a line with a leading dot',
      '.',
      'EXPECT 250',
      'QUIT',
      '',
    );
  }
  return out.slice(0, lines).join('\n') + '\n';
}
