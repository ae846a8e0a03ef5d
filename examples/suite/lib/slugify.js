// Turns a title into a URL slug: "Hello, World!" -> "hello-world".

/**
 * @param {string} text
 * @param {{ maxLength?: number, separator?: string }} [options]
 * @returns {string}
 */
export function slugify(text, options = {}) {
  const separator = options.separator ?? '-';
  const maxLength = options.maxLength ?? 80;
  const slug = text
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '') // strip combining accents: "é" -> "e"
    .toLowerCase()
    .replace(/&/g, ' and ')
    .replace(/[^a-z0-9]+/g, separator)
    .split(separator)
    .filter(Boolean)
    .join(separator);
  if (slug.length <= maxLength) return slug;
  // Cut at a separator when possible so words stay whole.
  const cut = slug.slice(0, maxLength + 1);
  const last = cut.lastIndexOf(separator);
  return (last > 0 ? cut.slice(0, last) : slug.slice(0, maxLength)).replace(new RegExp(`\\${separator}+$`), '');
}
