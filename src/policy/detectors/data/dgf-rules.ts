/**
 * dgf's own secret formats, for vendors gitleaks' rule set does not cover (or covers only in a longer form than
 * the tokens seen in practice), and the looser forms dgf matched before it used gitleaks' set (issue #19): kept
 * so that no key found before is missed now. Same shape as gitleaks-rules.ts; sources are the vendors' docs.
 */
import type { SecretRuleSet } from './secret-rule.js';

const rules: SecretRuleSet = {
  source: 'dgf (vendor documentation)',
  commit: '',
  generatedBy: 'hand',
  rules: [
    { id: 'stripe-webhook-secret', prefix: 'whsec_', regex: 'whsec_[A-Za-z0-9+/=]{24,128}', flags: '' },
    { id: 'stripe-key', prefix: 'sk_', regex: 'sk_(?:live|test)_[0-9A-Za-z]{16,256}', flags: '' },
    { id: 'stripe-restricted-key', prefix: 'rk_', regex: 'rk_(?:live|test)_[0-9A-Za-z]{16,256}', flags: '' },
    { id: 'groq-api-key', prefix: 'gsk_', regex: 'gsk_[A-Za-z0-9]{48,56}', flags: '' },
    { id: 'vault-service-token-short', prefix: 'hvs.', regex: 'hvs\\.[A-Za-z0-9_-]{24,120}', flags: '' },
    { id: 'vault-batch-token-short', prefix: 'hvb.', regex: 'hvb\\.[A-Za-z0-9_-]{24,300}', flags: '' },
    { id: 'azure-storage-account-key', prefix: 'accountkey=', regex: 'AccountKey=[A-Za-z0-9+/]{86}==', flags: '' },
    { id: 'azure-shared-access-key', prefix: 'sharedaccesskey=', regex: 'SharedAccessKey=[A-Za-z0-9+/]{43}=', flags: '' },
    { id: 'github-token', prefix: 'gh', regex: 'gh[pousr]_[A-Za-z0-9]{36,255}', flags: '' },
    { id: 'github-fine-grained-pat-short', prefix: 'github_pat_', regex: 'github_pat_[A-Za-z0-9_]{22,255}', flags: '' },
    { id: 'gitlab-token', prefix: 'gl', regex: 'gl(?:pat|rt|dt|ptt|ft|oas|cbt|soat|imt|agent)-[A-Za-z0-9_.-]{20,300}', flags: '' },
    { id: 'gitlab-runner-registration-token', prefix: 'gr1348941', regex: 'GR1348941[A-Za-z0-9_-]{20,40}', flags: '' },
    { id: 'slack-token', prefix: 'xox', regex: 'xox[abprse]-[A-Za-z0-9-]{10,256}', flags: '' },
    { id: 'slack-app-token', prefix: 'xapp-', regex: 'xapp-[A-Za-z0-9-]{10,256}', flags: '' },
    { id: 'slack-webhook-url', prefix: 'hooks.slack.com/', regex: 'hooks\\.slack\\.com/(?:services|workflows|triggers)/[A-Za-z0-9+/]{20,80}', flags: '' },
    { id: 'google-api-key', prefix: 'aiza', regex: 'AIza[0-9A-Za-z_-]{35}', flags: '' },
    { id: 'google-oauth-client-secret', prefix: 'gocspx-', regex: 'GOCSPX-[A-Za-z0-9_-]{28}', flags: '' },
    { id: 'sendgrid-api-key', prefix: 'sg.', regex: 'SG\\.[\\w-]{16,64}\\.[\\w-]{16,64}', flags: '' },
    { id: 'npm-token', prefix: 'npm_', regex: 'npm_[A-Za-z0-9]{36}', flags: '' },
    { id: 'openai-project-key', prefix: 'sk-', regex: 'sk-(?:proj|svcacct|admin)-[A-Za-z0-9_-]{40,256}', flags: '' },
    { id: 'openai-legacy-key', prefix: 'sk-', regex: 'sk-[A-Za-z0-9]{32,64}', flags: '', entropy: 4 },
    { id: 'anthropic-key', prefix: 'sk-ant-', regex: 'sk-ant-(?:api|admin)\\d\\d-[A-Za-z0-9_-]{40,256}', flags: '' },
    { id: 'huggingface-token', prefix: 'hf_', regex: 'hf_[A-Za-z0-9]{30,64}', flags: '' },
    { id: 'shopify-token', prefix: 'shp', regex: 'shp(?:at|ss|ca|pa)_[a-fA-F0-9]{32}', flags: '' },
    { id: 'digitalocean-token', prefix: 'do', regex: 'do[opr]_v1_[a-f0-9]{64}', flags: '' },
    { id: 'pypi-token', prefix: 'pypi-', regex: 'pypi-[\\w-]{50,1000}', flags: '' },
    { id: 'mailgun-api-key', prefix: 'key-', regex: 'key-[0-9a-f]{32}', flags: '' },
    { id: 'new-relic-key', prefix: 'nr', regex: 'NR(?:AK|II|JS|RA)-[A-Za-z0-9_-]{19,32}', flags: '' },
    { id: 'xai-api-key', prefix: 'xai-', regex: 'xai-[A-Za-z0-9]{70,90}', flags: '' },
    { id: 'databricks-token', prefix: 'dapi', regex: 'dapi[a-f0-9]{32}(?:-\\d)?', flags: '' },
    { id: 'grafana-service-account-token', prefix: 'glsa_', regex: 'glsa_[A-Za-z0-9]{32}_[A-Fa-f0-9]{8}', flags: '' },
    { id: 'square-token', prefix: 'sq0', regex: 'sq0(?:atp|csp)-[\\w-]{22,60}', flags: '' },
    { id: 'sentry-token', prefix: 'sntry', regex: 'sntry[su]_[A-Za-z0-9+/=_-]{40,300}', flags: '' },
  ],
};
export default rules;
