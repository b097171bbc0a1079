<?php

/**
 * congvu-mail: the province directory as seen by the webmail (docs/directory.md, docs/webmail.md).
 *
 * Plain PHP over ext-ldap, no Roundcube dependency, so the password driver and the
 * congvu_security plugin share it. Every operation that changes a password binds as the
 * user (the directory's ACL lets users change their own userPassword) and sends the
 * ppolicy request control, so slapd's ppolicy/ppm answer (too short, in history, quality
 * check failed...) comes back and is turned into a reason code (see reason_from_result()).
 */
class congvu_directory
{
    const PPOLICY_REQUEST = '1.3.6.1.4.1.42.2.27.8.5.1';

    /** ppolicy response error values (draft-behera-ldap-password-policy, section 6.2). */
    const PPOLICY_ERRORS = [
        0 => 'expired',
        1 => 'locked',
        2 => 'change_after_reset',
        3 => 'mod_not_allowed',
        4 => 'must_supply_old',
        5 => 'quality',
        6 => 'too_short',
        7 => 'too_young',
        8 => 'in_history',
    ];

    private $config;

    /**
     * @param array $config uri, starttls (bool), base_dn, bind_dn, bind_pw, ca_file, timeout
     */
    public function __construct(array $config)
    {
        $this->config = $config + ['starttls' => true, 'timeout' => 5, 'ca_file' => null];
    }

    /** A connection with TLS verifying the internal CA, or null. */
    public function connect()
    {
        if (!empty($this->config['ca_file'])) {
            // global option, must be set before the handle exists
            @ldap_set_option(null, LDAP_OPT_X_TLS_CACERTFILE, $this->config['ca_file']);
            @ldap_set_option(null, LDAP_OPT_X_TLS_REQUIRE_CERT, LDAP_OPT_X_TLS_DEMAND);
        }
        $conn = @ldap_connect($this->config['uri']);
        if (!$conn) {
            return null;
        }
        ldap_set_option($conn, LDAP_OPT_PROTOCOL_VERSION, 3);
        ldap_set_option($conn, LDAP_OPT_REFERRALS, 0);
        ldap_set_option($conn, LDAP_OPT_NETWORK_TIMEOUT, (int) $this->config['timeout']);
        if ($this->config['starttls'] && strpos($this->config['uri'], 'ldaps://') !== 0) {
            if (!@ldap_start_tls($conn)) {
                $this->log('StartTLS to ' . $this->config['uri'] . ' failed: ' . ldap_error($conn));
                return null;
            }
        }
        return $conn;
    }

    /**
     * The account a login name designates, read with the service account (which may read
     * entry, mail, congvuMailAlias and congvuAccountState: docs/directory.md): ['dn', 'mail',
     * 'state'], null when there is none, false when the directory cannot be asked (the caller fails
     * closed). With $aliases, a login that is nobody's address may be one of an account's aliases
     * (logging in with the old address during a transition, docs/restructuring.md); 'mail' is
     * then the account's address. An address always designates its own account first, as in
     * Dovecot, whatever alias another entry wrongly carries.
     */
    public function find_account($login, $aliases = false)
    {
        $conn = $this->connect();
        if (!$conn || !@ldap_bind($conn, $this->config['bind_dn'], $this->config['bind_pw'])) {
            $this->log('service bind as ' . $this->config['bind_dn'] . ' failed'
                . ($conn ? ': ' . ldap_error($conn) : ''));
            return false;
        }
        $value = self::escape($login);
        $entry = $this->find_one($conn, "(mail=$value)");
        if ($entry === null && $aliases) {
            $entry = $this->find_one($conn, "(congvuMailAlias=$value)");
        }
        @ldap_unbind($conn);
        if ($entry === null || $entry === false) {
            return $entry;  // nobody, or the directory could not be asked
        }
        return [
            'dn'    => $entry['dn'],
            'mail'  => $entry['mail'][0] ?? $login,
            'state' => $entry['congvuaccountstate'][0] ?? 'active',
        ];
    }

    /**
     * The one mail account matching $match (an LDAP filter item); null when there is none or
     * several, false when the search failed (the caller fails closed).
     */
    private function find_one($conn, $match)
    {
        $filter = "(&(objectClass=congvuMailAccount)$match)";
        $search = @ldap_search($conn, $this->config['base_dn'], $filter, ['mail', 'congvuAccountState'], 0, 2);
        if ($search === false && ldap_errno($conn) != 4) {  // 4: size limit, i.e. several entries
            $this->log('search ' . $filter . ' failed: ' . ldap_error($conn));
            return false;
        }
        $entries = $search ? ldap_get_entries($conn, $search) : ['count' => 0];
        return ($entries['count'] ?? 0) == 1 ? $entries[0] : null;
    }

    /**
     * Bind as the user (ppolicy request control) and read its own flags, which the ACL lets
     * the user read: ['ok' => bool, 'reason' => code|null, 'must_change' => bool,
     * 'state' => string|null]. One bind, so a wrong password counts once in ppolicy's
     * pwdFailureTime, exactly like the IMAP login it stands in for.
     */
    public function authenticate($dn, $password)
    {
        $conn = $this->connect();
        if (!$conn) {
            return ['ok' => false, 'reason' => 'connect', 'must_change' => false, 'state' => null];
        }
        if ($password === '') {  // an empty password would be an unauthenticated bind
            return ['ok' => false, 'reason' => 'invalid_credentials', 'must_change' => false, 'state' => null];
        }
        $result  = @ldap_bind_ext($conn, $dn, $password, [['oid' => self::PPOLICY_REQUEST]]);
        $outcome = $this->outcome($conn, $result) + ['must_change' => false, 'state' => null];
        if ($outcome['ok']) {
            // pwdReset (an administrator's reset with pwdMustChange): only a password change
            // is allowed, the read below is refused
            $outcome['must_change'] = !empty($outcome['reset']);
            $search = @ldap_read($conn, $dn, '(objectClass=*)', ['congvuMustChangePassword', 'congvuAccountState']);
            $entries = $search ? ldap_get_entries($conn, $search) : ['count' => 0];
            if (($entries['count'] ?? 0) == 1) {
                $entry = $entries[0];
                $flag = strtoupper((string) ($entry['congvumustchangepassword'][0] ?? 'FALSE'));
                $outcome['must_change'] = $outcome['must_change'] || $flag === 'TRUE';
                $outcome['state'] = $entry['congvuaccountstate'][0] ?? 'active';
            }
        }
        @ldap_unbind($conn);
        return $outcome;
    }

    /**
     * Change the password of $dn (bound as $dn with $old) through the Password Modify
     * extended operation, so ppolicy/ppm check the new one (slapd then clears pwdReset). On
     * success the account's congvuMustChangePassword is cleared by the service account: users
     * cannot write it (docs/security.md, finding 4).
     * Returns ['ok' => bool, 'reason' => code|null, 'diag' => text].
     */
    public function change_password($dn, $old, $new)
    {
        $conn = $this->connect();
        if (!$conn) {
            return ['ok' => false, 'reason' => 'connect', 'diag' => ''];
        }
        if (!@ldap_bind($conn, $dn, $old)) {
            $outcome = ['ok' => false, 'reason' => 'invalid_credentials', 'diag' => ldap_error($conn)];
            @ldap_unbind($conn);
            return $outcome;
        }
        ldap_set_option($conn, LDAP_OPT_SERVER_CONTROLS, [['oid' => self::PPOLICY_REQUEST]]);
        $controls = [];
        $ok = @ldap_exop_passwd($conn, $dn, $old, $new, $controls);
        if ($ok === false) {
            $diag = '';
            @ldap_get_option($conn, LDAP_OPT_DIAGNOSTIC_MESSAGE, $diag);
            $errno  = ldap_errno($conn);
            $reason = self::reason_from_result($errno, self::ppolicy_error($controls), (string) $diag);
            $this->log("password change for $dn refused: " . ldap_err2str($errno) . " ($diag) -> $reason");
            @ldap_unbind($conn);
            return ['ok' => false, 'reason' => $reason, 'diag' => (string) $diag];
        }
        @ldap_unbind($conn);
        $cleared = $this->clear_must_change_as_service($dn);
        if (!$cleared) {
            $this->log("password of $dn changed but congvuMustChangePassword could not be cleared");
        }
        return ['ok' => true, 'reason' => null, 'diag' => '', 'cleared' => $cleared];
    }

    private function clear_must_change_as_service($dn)
    {
        $conn = $this->connect();
        if (!$conn || !@ldap_bind($conn, $this->config['bind_dn'], $this->config['bind_pw'])) {
            return false;
        }
        $ok = @ldap_mod_replace($conn, $dn, ['congvuMustChangePassword' => ['FALSE']]);
        @ldap_unbind($conn);
        return $ok;
    }

    private function outcome($conn, $result)
    {
        if (!$result) {
            return ['ok' => false, 'reason' => 'connect', 'diag' => ldap_error($conn)];
        }
        $errcode = -1;
        $matched = $diag = null;
        $referrals = $controls = [];
        if (!ldap_parse_result($conn, $result, $errcode, $matched, $diag, $referrals, $controls)) {
            return ['ok' => false, 'reason' => 'connect', 'diag' => ldap_error($conn)];
        }
        if ($errcode === 0) {
            return ['ok' => true, 'reason' => null, 'diag' => '',
                    'reset' => self::ppolicy_error($controls) === 2];
        }
        $reason = self::reason_from_result($errcode, self::ppolicy_error($controls), (string) $diag);
        return ['ok' => false, 'reason' => $reason, 'diag' => (string) $diag];
    }

    private static function ppolicy_error($controls)
    {
        if (isset($controls[self::PPOLICY_REQUEST]['value']['error'])) {
            return (int) $controls[self::PPOLICY_REQUEST]['value']['error'];
        }
        return null;
    }

    /**
     * A reason code from an LDAP result code, the ppolicy response error and the diagnostic
     * text (ppm writes its reason there, e.g. 'Password for dn="..." is too short (6/8)').
     * Codes are the keys of the plugin's localization ('reason_<code>').
     */
    public static function reason_from_result($errno, $ppolicy, $diag)
    {
        $text = strtolower($diag);
        // ppm (pwdCheckModule) reasons, most specific first
        $ppm = [
            'too short'                    => 'too_short',
            'too long'                     => 'too_long',
            'forbidden'                    => 'invalid_character',
            'not allowed'                  => 'invalid_character',
            'dictionary'                   => 'dictionary',
            'cracklib'                     => 'dictionary',
            'rdn'                          => 'same_as_username',
            'consecutive'                  => 'repeated',
            'maximum number of characters' => 'repeated',
            'too weak'                     => 'dictionary',
            'repeated'                     => 'repeated',
            'quality points'               => 'classes',
            'minimum number of characters' => 'classes',
            'in history'                   => 'in_history',
            'too young'                    => 'too_young',
            'too early'                    => 'too_young',
        ];
        foreach ($ppm as $needle => $code) {
            if ($text !== '' && strpos($text, $needle) !== false) {
                if ($code === 'classes') {
                    foreach (['upper', 'lower', 'digit', 'special'] as $class) {
                        if (strpos($text, $class) !== false) {
                            return 'missing_' . $class;
                        }
                    }
                }
                return $code;
            }
        }
        if ($ppolicy !== null && isset(self::PPOLICY_ERRORS[$ppolicy])) {
            return self::PPOLICY_ERRORS[$ppolicy];
        }
        switch ((int) $errno) {
            case 0x13:  // constraintViolation
                return 'quality';
            case 0x31:  // invalidCredentials
                return 'invalid_credentials';
            case 0x32:  // insufficientAccessRights
                return 'mod_not_allowed';
            case 0x35:  // unwillingToPerform
                return 'locked';
            case -1:
            case 0x51:  // server down
                return 'connect';
        }
        return 'unknown';
    }

    /** RFC 4515 filter escaping. */
    public static function escape($value)
    {
        return ldap_escape((string) $value, '', LDAP_ESCAPE_FILTER);
    }

    private function log($line)
    {
        if (class_exists('rcube', false)) {
            rcube::write_log('congvu', $line);
        } else {
            error_log('congvu: ' . $line);
        }
    }
}
