/** What the OAuth application pages (a user's, a group's) show once after registering or renewing. */
export const secretOn = (html: string) => /id="new-token"[^>]*value="(gloas-[A-Za-z0-9]+)"|value="(gloas-[A-Za-z0-9]+)"[^>]*id="new-token"/.exec(html)?.slice(1).find(Boolean);
export const clientIdOn = (html: string) => /id="new-application-id">([0-9a-f]+)</.exec(html)?.[1];
