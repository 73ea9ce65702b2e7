/** The mail authentication toolkit: DKIM signing and DKIM/SPF/DMARC/ARC/BIMI verification. */
export * from './resolver';
export * from './received';
export * from './verify';
export * from './sign';
export * from './format';
