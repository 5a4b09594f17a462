/**
 * Which bodies travel as text in a Lambda function URL payload, and which as base64: the text types Lambda
 * documents for function URLs (text/*, JSON, XML, JavaScript, form data, GraphQL, `+json`/`+xml` suffixes),
 * plus the HLS playlist types. One rule for the origin's responses and the local function-URL adapter.
 */
const TEXT_TYPES = /^(text\/|application\/(json|xml|javascript|x-www-form-urlencoded|vnd\.apple\.mpegurl|x-mpegurl|graphql)\b|[^;]*\+(json|xml)\b)/i;

export function isTextContentType(contentType: string | undefined): boolean {
  return contentType !== undefined && TEXT_TYPES.test(contentType.trim());
}
