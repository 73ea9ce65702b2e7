/**
 * Helpers shared by the fact tables: every fact points at the RFC section that defines it, and the
 * link is always built the same way so that hovers and tests can rely on its shape.
 */

import { rfcLink } from '../../../common/problem';

/** Where a fact is written down: an RFC number, a section (or appendix) and a link to that section. */
export interface RfcReference {
  /** The RFC number, e.g. 5321. */
  readonly rfc: number;
  /** The section, e.g. `4.1.1.1`, or an appendix such as `F.1`; empty when the whole RFC is meant. */
  readonly section: string;
  /** A link to the section on www.rfc-editor.org. */
  readonly link: string;
}

/** Builds a complete reference from an RFC number and a section. */
export function ref(rfc: number, section = ''): RfcReference {
  return { rfc, section, link: rfcLink(rfc, section) };
}

/** Formats a reference for display, e.g. `RFC 5321 §4.1.1.1`. */
export function formatReference(reference: Pick<RfcReference, 'rfc' | 'section'>): string {
  if (reference.section === '') return `RFC ${reference.rfc}`;
  const mark = /^[A-Z]/.test(reference.section) ? 'Appendix ' : '§';
  return `RFC ${reference.rfc} ${mark}${reference.section}`;
}

/** The pattern every link produced by {@link rfcLink} matches; the tests check every fact with it. */
export const RFC_LINK_PATTERN = /^https:\/\/www\.rfc-editor\.org\/rfc\/rfc\d{3,5}(#(section-\d+(\.\d+)*|appendix-[A-Z](\.\d+)*))?$/;
