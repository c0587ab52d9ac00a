// Latchkey web UI enhancements. Every page works without this file: it only adds copy buttons and
// live filtering of token tables. Loaded as a module from /assets (the CSP allows only 'self').
const copyButtons = document.querySelectorAll('button[data-copy]');
for (const button of copyButtons) {
  const target = document.getElementById(button.dataset.copy);
  if (!target || !navigator.clipboard) continue;
  button.hidden = false;
  const label = button.textContent;
  button.addEventListener('click', async () => {
    const text = 'value' in target ? target.value : target.textContent;
    try {
      await navigator.clipboard.writeText(text);
      button.textContent = 'Copied';
    } catch {
      if ('select' in target) target.select();
      button.textContent = 'Select and copy';
    }
    setTimeout(() => (button.textContent = label), 2000);
  });
}

for (const input of document.querySelectorAll('input[data-filter]')) {
  const table = document.getElementById(input.dataset.filter);
  if (!table) continue;
  input.closest('.filter').hidden = false;
  input.addEventListener('input', () => {
    const needle = input.value.trim().toLowerCase();
    for (const row of table.tBodies[0].rows) row.hidden = needle !== '' && !row.textContent.toLowerCase().includes(needle);
  });
}
