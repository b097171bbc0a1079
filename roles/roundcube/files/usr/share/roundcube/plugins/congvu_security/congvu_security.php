<?php

/**
 * congvu_security: the webmail side of congvu-mail's account rules (docs/webmail.md).
 *
 * 1. Forced password change at first login (Hà Nam Art 8.2.a, Gia Lai Art 9.1, Cần Thơ Art 11.4,
 *    Hà Giang Art 12.1, Ninh Bình Art 6.3). Dovecot refuses IMAP to accounts whose
 *    congvuMustChangePassword is TRUE, so Roundcube cannot open a session for them. On
 *    'authenticate' this plugin looks the account up with the service account; when it must
 *    change, it checks the password with an LDAP bind as the user and, if right, sends the
 *    browser to a standalone change form (task login, action plugin.congvu_forcechange) that
 *    offers nothing else. The new password is written by the user's own bind through the
 *    Password Modify extended operation (slapd's ppolicy/ppm judge it), then
 *    congvuMustChangePassword is cleared and the user logs in normally.
 * 2. Brute-force protection (the webmail host is trusted by Dovecot, so its auth_penalty
 *    does not slow guesses made through the webmail): failed logins are counted per account
 *    and per client address in the Roundcube database; over the limit within the window the
 *    login is refused before any IMAP or LDAP attempt. A directory lockout (ppolicy
 *    pwdAccountLockedTime) or a locked account (congvuAccountState, Hà Nam Art 7.1, Gia Lai
 *    Art 6.1) is reported in Vietnamese once the password has been shown to be right.
 * 3. Vietnamese for the texts of Roundcube, managesieve and password that Debian's vi_VN lacks
 *    (localization/upstream/vi_VN/, merged at every request of a Vietnamese session).
 * 4. Logging in with an old address during a transition (congvu_alias_login_until, the policy's
 *    domains.alias_login_until; docs/restructuring.md): until that day an alias of an account
 *    logs in, and the session is the account's own address, as Dovecot's is.
 */
class congvu_security extends rcube_plugin
{
    public $task = '.*';

    /** @var rcmail */
    private $rc;
    private $count_failure = true;
    private $form_errors = [];

    public function init()
    {
        $this->rc = rcmail::get_instance();
        $this->load_config();
        $this->add_texts('localization/');

        $this->add_hook('startup', [$this, 'startup']);
        $this->add_hook('authenticate', [$this, 'authenticate']);
        $this->add_hook('login_failed', [$this, 'login_failed']);
        $this->add_hook('login_after', [$this, 'login_after']);

        // Vietnamese for the texts of Roundcube and of its plugins that Debian's vi_VN lacks
        if (strpos((string) ($_SESSION['language'] ?? ''), 'vi') === 0) {
            $this->complete_texts('vi_VN');
        }
    }

    /**
     * Merge localization/upstream/<lang>/<domain>.inc over the application's texts: core.inc as
     * Roundcube's own labels and messages, <plugin>.inc as "<plugin>.<key>". A merge overrides what
     * is loaded already, and a plugin loading its texts later only adds missing keys (rcube_plugin::
     * add_texts), so these win either way. Debian's files are left untouched (dpkg owns them).
     */
    private function complete_texts($lang)
    {
        $merge = [];
        foreach (glob(__DIR__ . "/localization/upstream/$lang/*.inc") as $file) {
            $domain = basename($file, '.inc');
            foreach (rcube::read_localization_file($file) as $key => $text) {
                $merge[$domain === 'core' ? $key : "$domain.$key"] = $text;
            }
        }
        $this->rc->load_language(null, [], $merge);

        // the page's basic client labels were looked up before any plugin ran (rcmail::load_gui):
        // look those that were completed up again ("Continue", "Attention" in dialogs otherwise)
        $basic = ['loading', 'servererror', 'connerror', 'requesttimedout', 'refreshing', 'windowopenerror',
            'uploadingmany', 'uploading', 'close', 'save', 'cancel', 'alerttitle', 'confirmationtitle', 'delete',
            'continue', 'ok'];
        if ($this->rc->output instanceof rcmail_output_html) {
            $this->rc->output->add_label(array_values(array_intersect($basic, array_keys($merge))));
        }
    }

    /** The directory helper, configured from congvu_ldap_* options. */
    public static function directory()
    {
        require_once __DIR__ . '/lib/congvu_directory.php';
        $cfg = rcube::get_instance()->config;
        return new congvu_directory([
            'uri'      => $cfg->get('congvu_ldap_uri'),
            'starttls' => (bool) $cfg->get('congvu_ldap_starttls', true),
            'base_dn'  => $cfg->get('congvu_ldap_base_dn'),
            'bind_dn'  => $cfg->get('congvu_ldap_bind_dn'),
            'bind_pw'  => $cfg->get('congvu_ldap_bind_pw'),
            'ca_file'  => $cfg->get('congvu_ldap_ca_file'),
            'timeout'  => (int) $cfg->get('congvu_ldap_timeout', 3),
        ]);
    }

    /**
     * Vietnamese (or English) text for a list of [code, vars] reasons, as one sentence list.
     */
    public static function reasons_text(array $reasons)
    {
        $rc = rcube::get_instance();
        $texts = [];
        foreach ($reasons as $reason) {
            list($code, $vars) = $reason;
            $name = "congvu_security.reason_$code";
            if (!$rc->text_exists($name)) {
                $name = 'congvu_security.reason_unknown';
            }
            $texts[] = $rc->gettext(['name' => $name, 'vars' => $vars]);
        }
        return implode('. ', array_unique($texts)) . '.';
    }

    /** The province rules (roundcube_password_policy), or null when the pre-check is off. */
    public static function precheck($password, $username)
    {
        $rules = rcube::get_instance()->config->get('congvu_password_rules');
        if (empty($rules)) {
            return [];
        }
        require_once __DIR__ . '/lib/congvu_password_rules.php';
        return congvu_password_rules::violations($password, $rules, $username);
    }

    // ---------------------------------------------------------------- hooks

    public function startup($args)
    {
        if ($this->rc->task == 'login' && $args['action'] == 'plugin.congvu_forcechange') {
            $this->forcechange();  // exits
        }
        if ($this->rc->task == 'login' && !empty($_SESSION['congvu_notice'])) {
            $this->rc->output->show_message('congvu_security.' . $_SESSION['congvu_notice'], 'confirmation',
                null, true, 30);
            $this->rc->output->set_env('congvu_notice', $_SESSION['congvu_notice']);
            $this->rc->session->remove('congvu_notice');
        }
        return $args;
    }

    public function authenticate($args)
    {
        $this->count_failure = true;
        $user = $this->login_name($args['user']);
        $args['user'] = $user;
        if (!$args['valid'] || $user === '') {
            return $args;
        }

        // 1. Our own counters: refuse before anything reaches IMAP or LDAP
        if ($this->refuse_throttled($user, $args)) {
            return $args;
        }

        // 2. The directory. One bind as the user stands in for the IMAP password check, so a
        //    wrong password counts once in ppolicy (lockout), and must-change or locked accounts,
        //    which Dovecot refuses anyway, get a clear answer instead of "login failed".
        $dir = self::directory();
        $account = $dir->find_account($user, $this->alias_login_open());
        if ($account && $account['mail'] !== $user) {
            // One of the account's aliases while they may log in (docs/restructuring.md, "Logging
            // in with the old address"): the session is the account's own address, as Dovecot's
            // is, so settings, the password change and the counters are the account's.
            $this->log("alias $user logs in as " . $account['mail']);
            $user = $account['mail'];
            $args['user'] = $user;
            if ($this->refuse_throttled($user, $args)) {
                return $args;
            }
        }
        if ($account === null) {
            // Unknown login: refused here, as a wrong password is, and answered no sooner than a
            // wrong password (login_failed): the answer and its timing say nothing about whether
            // the address exists (docs/security.md, finding 7)
            $args['abort'] = true;
            return $args;
        }
        if (!$account) {
            return $args;  // directory unreachable: IMAP decides (and fails)
        }
        $auth = $dir->authenticate($account['dn'], $args['pass']);
        if (!$auth['ok']) {
            $args['abort'] = true;  // no second attempt through IMAP; login_failed counts it
            if ($auth['reason'] === 'locked') {
                $args['error'] = $this->gettext('directorylocked');
            } elseif ($auth['reason'] === 'connect') {
                $this->count_failure = false;
                $args['error'] = $this->gettext('reason_connect');
            }
            return $args;
        }
        $this->clear_failures($user);
        if (($auth['state'] ?? $account['state']) !== 'active') {
            // Hà Nam Art 7.1, Gia Lai Art 6.1: a locked mailbox keeps its mail but cannot log in
            $this->count_failure = false;
            $args['abort'] = true;
            $args['error'] = $this->gettext('accountlocked');
            return $args;
        }
        if ($auth['must_change']) {
            // Hà Nam Art 8.2.a, Gia Lai Art 9.1: the default password must be changed first;
            // nothing else is reachable (Dovecot refuses IMAP until the flag is cleared)
            $_SESSION['congvu_fc'] = [
                'dn'      => $account['dn'],
                'user'    => $account['mail'],
                'pass'    => $this->rc->encrypt($args['pass']),
                'expires' => time() + (int) $this->rc->config->get('congvu_forcechange_timeout', 600),
            ];
            $this->log("forced password change started for $user");
            $this->rc->output->redirect(['_task' => 'login', '_action' => 'plugin.congvu_forcechange'], 0);
        }
        return $args;
    }

    /** Refuse the login (and say for how long) when the counters of $user or the client are full. */
    private function refuse_throttled($user, array &$args)
    {
        $minutes = $this->throttled($user, rcube_utils::remote_addr());
        if (!$minutes) {
            return false;
        }
        $this->count_failure = false;
        $this->log("login refused for $user from " . rcube_utils::remote_addr() . ': too many failures');
        $args['abort'] = true;
        $args['error'] = $this->gettext(['name' => 'toomanyfailures', 'vars' => ['minutes' => $minutes]]);
        return true;
    }

    /**
     * Whether an account's aliases log in today (congvu_alias_login_until, the policy's
     * domains.alias_login_until; the province's time zone): the same last day as Dovecot's,
     * whose timer ends it at 23:59:59 of that day.
     */
    private function alias_login_open()
    {
        $until = (string) $this->rc->config->get('congvu_alias_login_until', '');
        if ($until === '') {
            return false;
        }
        $zone = new DateTimeZone((string) $this->rc->config->get('congvu_alias_login_timezone', 'Asia/Ho_Chi_Minh'));
        return (new DateTime('now', $zone))->format('Y-m-d') <= $until;
    }

    public function login_failed($args)
    {
        if ($this->count_failure && !empty($args['user'])) {
            $this->record_failure($this->login_name($args['user']), rcube_utils::remote_addr());
        }
        $this->count_failure = true;
        $this->failure_floor();
        return $args;
    }

    /**
     * Every failed login is answered no sooner than congvu_login_failure_delay milliseconds after
     * the request began: an unknown address, a wrong password and a throttled account take the
     * same time (no enumeration by timing), and each guess costs the guesser that time. Per
     * request, never per client address: the agencies share NAT addresses (docs/security.md).
     */
    private function failure_floor()
    {
        $delay = (int) $this->rc->config->get('congvu_login_failure_delay', 1000) / 1000.0;
        $start = (float) ($_SERVER['REQUEST_TIME_FLOAT'] ?? microtime(true));
        $wait = $start + $delay - microtime(true);
        if ($wait > 0) {
            usleep((int) ($wait * 1000000));
        }
    }

    public function login_after($args)
    {
        if (!empty($_SESSION['username'])) {
            $this->clear_failures($this->login_name($_SESSION['username']));
        }
        return $args;
    }

    // ------------------------------------------------------- forced change

    private function forcechange()
    {
        $state = $_SESSION['congvu_fc'] ?? null;
        if (empty($state) || $state['expires'] < time()) {
            $this->rc->session->remove('congvu_fc');
            $this->rc->output->redirect(['_task' => 'login'], 0);
        }

        if (!empty($_POST)) {
            $this->forcechange_save($state);  // redirects on success
        }

        $this->register_handler('plugin.congvu_forcechangeform', [$this, 'forcechange_form']);
        $this->rc->output->set_pagetitle($this->gettext('forcechange_title'));
        $this->rc->output->send('congvu_security.forcechange');
    }

    private function forcechange_save($state)
    {
        if (!$this->rc->check_request()) {
            $this->form_errors[] = $this->rc->gettext('invalidrequest');
            return;
        }
        $charset = $this->rc->config->get('password_charset', 'UTF-8');
        $new  = rcube_utils::get_input_string('_newpasswd', rcube_utils::INPUT_POST, true, $charset);
        $conf = rcube_utils::get_input_string('_confpasswd', rcube_utils::INPUT_POST, true, $charset);
        $old  = $this->rc->decrypt($state['pass']);

        if ($new === '') {
            $this->form_errors[] = $this->gettext('reason_empty');
        } elseif ($new !== $conf) {
            $this->form_errors[] = $this->gettext('reason_mismatch');
        } elseif ($new === $old) {
            $this->form_errors[] = $this->gettext('reason_same_as_old');
        } elseif ($violations = self::precheck($new, $state['user'])) {
            $this->form_errors[] = self::reasons_text($violations);
        } else {
            $result = self::directory()->change_password($state['dn'], $old, $new);
            if ($result['ok']) {
                $this->log('forced password change done for ' . $state['user']);
                $this->rc->session->remove('congvu_fc');
                $_SESSION['congvu_notice'] = 'forcechange_done';
                $this->rc->output->redirect(['_task' => 'login'], 0);
            }
            $this->form_errors[] = self::reasons_text([[$result['reason'], []]]);
        }
        $this->log('forced password change refused for ' . $state['user'] . ': ' . implode(' ', $this->form_errors));
        foreach ($this->form_errors as $error) {
            $this->rc->output->show_message($error, 'error', null, false, 0);
        }
    }

    public function forcechange_form($attrib)
    {
        $state = $_SESSION['congvu_fc'];
        $table = new html_table(['cols' => 2, 'class' => 'propform']);

        $table->add('title', html::label('congvu-account', rcube::Q($this->gettext('account'))));
        $table->add(null, html::span(['id' => 'congvu-account', 'class' => 'form-control-plaintext'],
            rcube::Q($state['user'])));

        $input = new html_passwordfield(['name' => '_newpasswd', 'id' => 'congvu-newpasswd',
            'autocomplete' => 'new-password', 'class' => 'form-control', 'required' => true]);
        $table->add('title', html::label('congvu-newpasswd', rcube::Q($this->gettext('newpasswd'))));
        $table->add(null, $input->show());

        $input = new html_passwordfield(['name' => '_confpasswd', 'id' => 'congvu-confpasswd',
            'autocomplete' => 'new-password', 'class' => 'form-control', 'required' => true]);
        $table->add('title', html::label('congvu-confpasswd', rcube::Q($this->gettext('confpasswd'))));
        $table->add(null, $input->show());

        $rules = $this->rules_text();
        $errors = '';
        if (!empty($this->form_errors)) {
            $errors = html::div(['id' => 'congvu-errors', 'class' => 'alert alert-danger', 'role' => 'alert'],
                implode('<br>', array_map(['rcube', 'Q'], $this->form_errors)));
        }

        $submit = html::tag('button', ['type' => 'submit', 'id' => 'congvu-submit',
            'class' => 'button mainaction submit btn btn-primary btn-lg text-uppercase w-100'],
            rcube::Q($this->gettext('forcechange_submit')));

        $body = html::tag('h1', ['class' => 'congvu-title'], rcube::Q($this->gettext('forcechange_title')))
            . html::p(['id' => 'congvu-intro'], rcube::Q($this->gettext('forcechange_intro')))
            . $errors
            . ($rules ? html::p(['id' => 'congvu-rules', 'class' => 'hint'], rcube::Q($rules)) : '')
            . $table->show()
            . html::p(['class' => 'formbuttons'], $submit)
            . html::p(['class' => 'congvu-cancel'], html::a(['href' => './?_task=login'],
                rcube::Q($this->gettext('forcechange_cancel'))));

        return $this->rc->output->form_tag([
            'id'     => 'congvu-forcechange-form',
            'name'   => 'congvu-forcechange-form',
            'method' => 'post',
            'action' => './?_task=login&_action=plugin.congvu_forcechange',
        ], html::tag('input', ['type' => 'hidden', 'name' => '_token',
                'value' => $this->rc->get_request_token()]) . $body);
    }

    private function rules_text()
    {
        $rules = $this->rc->config->get('congvu_password_rules');
        if (empty($rules)) {
            return '';
        }
        $names = [];
        foreach ((array) $rules['classes'] as $class) {
            $names[] = $this->gettext("class_$class");
        }
        return $this->gettext(['name' => 'rules', 'vars' => [
            'n'       => (int) $rules['min_length'],
            'classes' => implode(', ', $names),
            'chars'   => implode(' ', str_split((string) $rules['special_chars'])),
        ]]);
    }

    // ------------------------------------------------------- brute force

    private function login_name($user)
    {
        $user = mb_strtolower(trim((string) $user));
        $domain = $this->rc->config->get('username_domain');
        if ($user !== '' && strpos($user, '@') === false && is_string($domain) && $domain !== '') {
            $user .= '@' . $domain;
        }
        return $user;
    }

    private function table()
    {
        static $created = false;
        $db = $this->rc->get_dbh();
        if (!$created) {
            $db->query('CREATE TABLE IF NOT EXISTS congvu_login_failures ('
                . 'kind varchar(16) NOT NULL, subject varchar(255) NOT NULL, created integer NOT NULL)');
            $created = true;
        }
        return $db;
    }

    /** Minutes to wait when the account or the client is over its limit, else 0. */
    private function throttled($user, $ip)
    {
        $window = (int) $this->rc->config->get('congvu_login_failure_window', 900);
        $limits = [
            'account' => [$user, (int) $this->rc->config->get('congvu_login_max_failures_account', 5)],
            'client'  => [$ip, (int) $this->rc->config->get('congvu_login_max_failures_client', 20)],
        ];
        $db = $this->table();
        foreach ($limits as $kind => list($subject, $max)) {
            if ($max <= 0 || $subject === '') {
                continue;
            }
            $res = $db->query('SELECT COUNT(*) AS n, MAX(created) AS last FROM congvu_login_failures'
                . ' WHERE kind = ? AND subject = ? AND created > ?', $kind, $subject, time() - $window);
            $row = $db->fetch_assoc($res);
            if ($row && (int) $row['n'] >= $max) {
                return max(1, (int) ceil(((int) $row['last'] + $window - time()) / 60));
            }
        }
        return 0;
    }

    private function record_failure($user, $ip)
    {
        $db = $this->table();
        $now = time();
        $db->query('DELETE FROM congvu_login_failures WHERE created < ?',
            $now - (int) $this->rc->config->get('congvu_login_failure_window', 900));
        foreach (['account' => $user, 'client' => $ip] as $kind => $subject) {
            if ($subject !== '') {
                $db->query('INSERT INTO congvu_login_failures (kind, subject, created) VALUES (?, ?, ?)',
                    $kind, $subject, $now);
            }
        }
        $this->log("failed login for $user from $ip");
    }

    private function clear_failures($user)
    {
        $this->table()->query('DELETE FROM congvu_login_failures WHERE kind = ? AND subject = ?', 'account', $user);
    }

    private function log($line)
    {
        rcube::write_log('congvu', $line);
    }
}
