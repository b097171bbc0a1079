<?php

/**
 * congvu-mail: the province password rules, checked in the browser's request before the
 * directory is asked (slapd's ppolicy/ppm enforces them anyway). Same rules and same
 * reason codes as congvu/passwords.py password_violations():
 *   Hà Nam Art 8.2.b, Gia Lai Art 9.2, Cần Thơ Art 10.3, Ninh Bình Art 11.1.
 */
class congvu_password_rules
{
    /**
     * Reason codes (with format values) for every rule $password breaks.
     *
     * @param array  $rules    min_length (int), classes (list of upper|lower|digit|special),
     *                         special_chars (string)
     * @param string $username the mailbox local part (must not appear in the password)
     *
     * @return array list of [code, vars]
     */
    public static function violations($password, array $rules, $username = '')
    {
        $found   = [];
        $classes = (array) ($rules['classes'] ?? []);
        $special = (string) ($rules['special_chars'] ?? '');
        $min     = (int) ($rules['min_length'] ?? 0);

        if (mb_strlen($password, 'UTF-8') < $min) {
            $found[] = ['too_short', ['n' => $min]];
        }
        if (in_array('upper', $classes) && !preg_match('/[A-Z]/', $password)) {
            $found[] = ['missing_upper', []];
        }
        if (in_array('lower', $classes) && !preg_match('/[a-z]/', $password)) {
            $found[] = ['missing_lower', []];
        }
        if (in_array('digit', $classes) && !preg_match('/[0-9]/', $password)) {
            $found[] = ['missing_digit', []];
        }
        if (in_array('special', $classes) && strpbrk($password, $special) === false) {
            $found[] = ['missing_special', ['chars' => implode(' ', str_split($special))]];
        }
        if (!preg_match('/^[\x21-\x7e]*$/', $password)) {
            $found[] = ['invalid_character', []];
        }
        $local = strtolower(explode('@', (string) $username)[0]);
        if (strlen($local) >= 3 && strpos(strtolower($password), $local) !== false) {
            $found[] = ['same_as_username', []];
        }

        return $found;
    }
}
